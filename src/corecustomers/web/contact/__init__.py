"""Contact with consent: consents and preferences, one contact budget, contact plans and care
days (节日、生日关怀), and an outbox that sends only what is allowed.
"""
