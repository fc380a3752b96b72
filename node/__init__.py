"""One chapter's node: config, store, intake, retention, CLI."""
