"""The collector settings the server runs with once it listens (server.py, benchmark W1)."""

from __future__ import annotations

import gc

from centripetal.server import GC_YOUNG_THRESHOLD, restore_garbage_collector, tune_garbage_collector


def test_startup_objects_frozen_and_young_threshold_raised_then_restored() -> None:
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    previous = tune_garbage_collector()
    try:
        assert previous == before
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (max(before[0], GC_YOUNG_THRESHOLD), *before[1:])
    finally:
        restore_garbage_collector(previous)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
