"""Everything Matrix: the chapter bot, the alert wire format, and the runtime around them.

bot (matrix-nio client), wire (signed alert format), chapter (ChapterFederation:
what `vecinos run` starts), delivery (outbox -> rooms), receiver (rooms -> node),
relay (bridging), neighbourhood (cached pins), neighbours / setup / status (the
operator's commands), state (DATA/matrix files and the bot lock), homeserver
(a loopback Synapse for tests and the demo). Imports node and scoring only, never web.
"""
