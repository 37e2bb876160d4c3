"""List the row IDs of the compatibility spec, and check the compliance matrix against them.

Usage::

    python scripts/compat_rows.py SPEC.md                 # "<section> <ID>" per line
    python scripts/compat_rows.py SPEC.md --check docs/compatibility.md

A spec row is a table line whose first cell is an ID such as ``P-30``, ``E-APP``, ``D-WS1`` or
``P-49a``; its section is the number of the nearest ``## N.`` heading above it (appendices
and unnumbered headings end a section). A matrix row is a table line of
``docs/compatibility.md`` whose first cell is an ID; its third cell is the state, one of
``done``, ``partial`` or ``missing`` (optionally followed by a note such as ``(PRO)``).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROW_ID = re.compile(r"^\|\s*([A-Z]+-[A-Z0-9]+[a-z]?)\s*\|")
SECTION = re.compile(r"^##\s+(\d+)\.\s")
STATES = ("done", "partial", "missing")
PRIMARY_SECTIONS = (1, 5, 6, 7, 8)
SECONDARY_SECTIONS = (2, 3, 4, 9, 10, 11)


def spec_rows(text: str) -> dict[int, list[str]]:
    """Section number -> row IDs in file order."""
    rows: dict[int, list[str]] = {}
    section: int | None = None
    for line in text.splitlines():
        if line.startswith("## "):
            m = SECTION.match(line)
            section = int(m.group(1)) if m else None
            continue
        m = ROW_ID.match(line)
        if m and section is not None:
            rows.setdefault(section, []).append(m.group(1))
    return rows


def cells(line: str) -> list[str]:
    """The cells of one Markdown table line (``\\|`` inside a cell is not a separator)."""
    parts = re.split(r"(?<!\\)\|", line.strip())
    return [p.strip() for p in parts[1:-1]]


def matrix_rows(text: str) -> list[list[str]]:
    """The table lines of the matrix whose first cell is a row ID, as cell lists."""
    return [cells(line) for line in text.splitlines() if ROW_ID.match(line)]


def state_of(cell: str) -> str:
    """``done`` / ``partial`` / ``missing`` from a state cell, or ``""`` when invalid."""
    m = re.match(r"(done|partial|missing)\b", cell)
    return m.group(1) if m else ""


def check(spec_text: str, matrix_text: str, sections: tuple[int, ...]) -> list[str]:
    """Problems: spec IDs of ``sections`` missing or repeated in the matrix, bad states."""
    problems: list[str] = []
    wanted = [i for s in sections for i in spec_rows(spec_text).get(s, [])]
    counts: dict[str, int] = {}
    for row in matrix_rows(matrix_text):
        counts[row[0]] = counts.get(row[0], 0) + 1
        if len(row) != 4:
            problems.append(f"{row[0]}: expected 4 cells, got {len(row)}")
        elif not state_of(row[2]):
            problems.append(f"{row[0]}: invalid state {row[2]!r}")
    for rid in wanted:
        n = counts.get(rid, 0)
        if n != 1:
            problems.append(f"{rid}: {n} matrix rows")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("spec", type=Path)
    parser.add_argument("--check", type=Path, metavar="MATRIX")
    args = parser.parse_args(argv)
    spec_text = args.spec.read_text(encoding="utf-8")
    if args.check is None:
        for section, ids in sorted(spec_rows(spec_text).items()):
            for rid in ids:
                print(section, rid)
        return 0
    sections = PRIMARY_SECTIONS + SECONDARY_SECTIONS
    problems = check(spec_text, args.check.read_text(encoding="utf-8"), sections)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
