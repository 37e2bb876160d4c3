"""External tools the live tests need: fail in CI, skip elsewhere (DESIGN §7)."""

from __future__ import annotations

import os
import shutil

import pytest

__all__ = ["is_ci", "require_tool"]


def is_ci() -> bool:
    """Whether the tests run in CI (``CI=true``), where a missing tool is a failure."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def require_tool(name: str) -> str:
    """Return the path of executable ``name``.

    When it is missing: ``pytest.fail`` if :func:`is_ci`, otherwise ``pytest.skip``
    with the reason.
    """
    path = shutil.which(name)
    if path is not None:
        return path
    reason = f"required tool {name!r} is not on PATH"
    if is_ci():
        pytest.fail(f"{reason} (CI=true: tools the tests need must be installed)")
    pytest.skip(reason)
