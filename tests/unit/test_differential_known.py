"""The deliberate differences from Centrifugo v6.9.1 (``tests/differential/known.py``) name
conversations that exist and are all listed in docs/compatibility.md."""

from __future__ import annotations

import ast
from pathlib import Path

from differential.known import KNOWN

ROOT = Path(__file__).resolve().parents[2]


def _tests_of(module: Path) -> set[str]:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    }


def test_every_known_difference_names_an_existing_conversation() -> None:
    for name in KNOWN:
        module, _, test = name.partition("::")
        assert test in _tests_of(ROOT / "tests" / "differential" / module), name


def test_every_known_difference_is_in_the_compatibility_doc() -> None:
    doc = " ".join((ROOT / "docs" / "compatibility.md").read_text(encoding="utf-8").split())
    for name, reason in KNOWN.items():
        assert name in doc, name
        assert " ".join(reason.split()) in doc, name
