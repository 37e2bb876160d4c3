"""Differences from Centrifugo v6.9.1 that are kept on purpose.

Each entry names a conversation (``<module>::<test>``) and why centripetal answers it
differently; the conversation then runs as a strict xfail: it must still differ, so an entry
cannot outlive the difference it records. ``docs/compatibility.md`` lists every reason
(``tests/unit/test_differential_known.py`` checks that it does).
"""

from __future__ import annotations

KNOWN: dict[str, str] = {
    "test_client_protocol.py::test_publish_then_history": (
        "Centrifugo's memory engine returns the first publication of a stream with its epoch "
        "in history and recovery, because it keeps the object it delivered; on Redis it does "
        "not. centripetal gives the epoch with the first publication's push only, on every "
        "engine."
    ),
}
