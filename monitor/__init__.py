"""Pantau: watches Indonesian news feeds and alerts analysts about tracked actors and topics."""

__version__ = "0.1.0"
