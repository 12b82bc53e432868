"""Notifications: the durable outbox, its channels (webhook, e-mail) and the worker."""
