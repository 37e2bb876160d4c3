"""Package version and the version string reported to clients (P-30 ``version``)."""

__version__ = "0.1.0"


def server_version() -> str:
    """The connect-reply ``version``: our version with the edition, as Centrifugo reports
    ``"6.9.1 OSS"``."""
    return f"{__version__} OSS"
