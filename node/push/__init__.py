"""Web Push for the public: alerts for the areas a person picks, without an account.

- endpoints.py: which push-service URLs the node will ever send to (no request proxy).
- keys.py: the VAPID key (RFC 8292) and the key that encrypts subscriptions at rest.
- subscriptions.py: validating, storing (encrypted) and expiring subscriptions.
- messages.py: what a push says (type, area, level, age, link; never free text).
- sender.py: the fan-out loop, payloads encrypted per subscriber (RFC 8291 aes128gcm).

Rule: a push carries only what a neighbour alert carries (an aggregate of a
gazetteer area), in the subscriber's language; nothing about a reporter.
"""
