"""Webhooks: payloads and signing, the dispatcher, and URL safety."""
