"""Everything Matrix: the test/demo homeserver, the alert wire format and the chapter bot.

Imports node and scoring only, never web.
"""
