"""The chapter's web face: public pages, the no-JS report form, the JSON API and moderation."""
