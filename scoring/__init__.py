"""Pure domain logic of a Vecinos chapter: scoring, moderation, decay.

Rule kept by every module here: no I/O, no clock reads, no database, no
sleeps, no imports from the rest of the project. "Now" is always an argument.
"""
