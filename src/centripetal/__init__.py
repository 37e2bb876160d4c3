"""centripetal: a Centrifugo-compatible real-time messaging server in Python."""

from centripetal.version import __version__

__all__ = ["__version__"]
