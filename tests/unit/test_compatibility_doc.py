"""``docs/compatibility.md`` against the spec: one row per spec row ID with a valid state,
existing tests in "shown by", and a summary that adds up.

The spec lives next to the repository (``../shared/spec/centrifugo-surface.md``); the tests
that need it are skipped only when that file is absent.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT.parent / "shared" / "spec" / "centrifugo-surface.md"
MATRIX = ROOT / "docs" / "compatibility.md"
TESTS = ROOT / "tests"


def _load_rows_module() -> ModuleType:
    path = ROOT / "scripts" / "compat_rows.py"
    spec = importlib.util.spec_from_file_location("compat_rows", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["compat_rows"] = module
    spec.loader.exec_module(module)
    return module


cr = _load_rows_module()
needs_spec = pytest.mark.skipif(not SPEC.exists(), reason="spec file not present")


def _matrix() -> list[list[str]]:
    rows: list[list[str]] = cr.matrix_rows(MATRIX.read_text(encoding="utf-8"))
    return rows


def _spec_rows() -> dict[int, list[str]]:
    rows: dict[int, list[str]] = cr.spec_rows(SPEC.read_text(encoding="utf-8"))
    return rows


def _shown_by(cell: str) -> list[str]:
    return [] if cell in ("—", "") else [ref.strip() for ref in cell.split(", ")]


@needs_spec
@pytest.mark.parametrize("section", cr.PRIMARY_SECTIONS + cr.SECONDARY_SECTIONS)
def test_every_spec_row_listed_exactly_once_with_a_state(section: int) -> None:
    """Spec §1, §5-§8 (part 1) and §2-§4, §9-§11 (part 2): one matrix row per ID."""
    ids = _spec_rows()[section]
    assert ids, f"spec section {section} has no rows"
    rows = _matrix()
    for rid in ids:
        found = [r for r in rows if r[0] == rid]
        assert len(found) == 1, f"{rid}: {len(found)} rows"
        assert len(found[0]) == 4, f"{rid}: {found[0]}"
        assert cr.state_of(found[0][2]) in ("done", "partial", "missing"), found[0]


@needs_spec
def test_matrix_lists_no_unknown_ids() -> None:
    known = {i for s in cr.PRIMARY_SECTIONS + cr.SECONDARY_SECTIONS for i in _spec_rows()[s]}
    unknown = [r[0] for r in _matrix() if r[0] not in known]
    assert unknown == []


@needs_spec
def test_check_reports_nothing() -> None:
    sections = cr.PRIMARY_SECTIONS + cr.SECONDARY_SECTIONS
    spec_text = SPEC.read_text(encoding="utf-8")
    assert cr.check(spec_text, MATRIX.read_text(encoding="utf-8"), sections) == []


@needs_spec
def test_summary_counts_match_rows() -> None:
    states = {r[0]: cr.state_of(r[2]) for r in _matrix()}
    text = MATRIX.read_text(encoding="utf-8")
    total = {"done": 0, "partial": 0, "missing": 0}
    for section, ids in _spec_rows().items():
        if section not in cr.PRIMARY_SECTIONS + cr.SECONDARY_SECTIONS:
            continue
        counts = {s: sum(1 for i in ids if states[i] == s) for s in total}
        for s in total:
            total[s] += counts[s]
        line = re.search(rf"^\| §{section} [^|]*\|(.*)\|\s*$", text, re.M)
        assert line is not None, f"no summary line for §{section}"
        numbers = [int(n) for n in line.group(1).split("|")]
        assert numbers == [len(ids), counts["done"], counts["partial"], counts["missing"]]
    line = re.search(r"^\| \*\*all\*\* \|(.*)\|\s*$", text, re.M)
    assert line is not None
    numbers = [int(n) for n in line.group(1).split("|")]
    assert numbers == [sum(total.values()), total["done"], total["partial"], total["missing"]]


def test_done_rows_name_a_test() -> None:
    """A row is done only when a test exercises it."""
    bare = [r[0] for r in _matrix() if cr.state_of(r[2]) == "done" and not _shown_by(r[3])]
    assert bare == []


def test_named_tests_exist() -> None:
    """Every ``file::test[param]`` in "shown by" names an existing test function (and param)."""
    problems = []
    for row in _matrix():
        for ref in _shown_by(row[3]):
            m = re.fullmatch(r"([\w/]+\.py)::(test_\w+)(?:\[(.+)\])?", ref)
            if m is None:
                problems.append(f"{row[0]}: malformed reference {ref!r}")
                continue
            path = TESTS / m.group(1)
            if not path.exists():
                problems.append(f"{row[0]}: no file {m.group(1)}")
                continue
            source = path.read_text(encoding="utf-8")
            if not re.search(rf"^(async )?def {m.group(2)}\(", source, re.M):
                problems.append(f"{row[0]}: no test {m.group(2)} in {m.group(1)}")
            if m.group(3) and f'"{m.group(3)}"' not in source:
                problems.append(f"{row[0]}: no parameter {m.group(3)} in {m.group(1)}")
    assert problems == []


def test_state_parser() -> None:
    assert cr.state_of("done") == "done"
    assert cr.state_of("partial: no test") == "partial"
    assert cr.state_of("missing (PRO)") == "missing"
    assert cr.state_of("mostly done") == ""
    assert cr.state_of("donefoo") == ""


def test_spec_parser_sections_and_ids() -> None:
    text = "\n".join(
        [
            "## 1. One",
            "| ID | x |",
            "|---|---|",
            "| P-01 | a |",
            "| P-49a | b |",
            "## 2. Two",
            "| E-APP | c |",
            "## Appendix A",
            "| TV-01 | d |",
        ]
    )
    assert cr.spec_rows(text) == {1: ["P-01", "P-49a"], 2: ["E-APP"]}
