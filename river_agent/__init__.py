"""river-agent: reasoning-based implicit video editing (RIVER)."""

__version__ = "0.1.0"
