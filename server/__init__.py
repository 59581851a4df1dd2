"""Castimer: a self-hostable, real-time timer server."""

__version__ = "0.1.0"
