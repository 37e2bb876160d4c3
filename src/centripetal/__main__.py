"""``python -m centripetal``: the same command line as ``centripetal`` (SV-15)."""

from __future__ import annotations

import sys

from centripetal.cli import main

if __name__ == "__main__":
    sys.exit(main())
