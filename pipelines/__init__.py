"""meterhouse: a streaming lakehouse that meters multi-tenant usage and bills it."""

__version__ = "0.1.0"
