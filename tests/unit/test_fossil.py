"""Fossil delta (HR-09): encoding vectors, round trips, and centrifuge-python as the oracle.

The published vectors come from centrifuge-python's own test-suite (deltas made by the Go
server); the small ones are worked out by hand from the format (base-64 digits
``0-9 A-Z _ a-z ~``, checksum = sum of big-endian 32-bit words).
"""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from centripetal.core.fossil import apply_delta, checksum, create_delta, output_size


def _load_oracle() -> ModuleType:
    """centrifuge-python's ``fossil`` module, loaded alone.

    Importing the ``centrifuge`` package would register its own ``client.proto`` in the
    protobuf descriptor pool and clash with ours, so only the standalone file is loaded.
    """
    spec = importlib.util.find_spec("centrifuge")
    assert spec is not None and spec.submodule_search_locations
    path = Path(next(iter(spec.submodule_search_locations))) / "fossil.py"
    mod_spec = importlib.util.spec_from_file_location("_centrifuge_fossil_oracle", path)
    assert mod_spec is not None and mod_spec.loader is not None
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    return module


oracle = _load_oracle()

# A published order-book vector: source, target and the delta the Go server produced.
BOOK_SOURCE = (
    b'{"asks":[["610480","26.96"],["610490","32.76"],["610500","622.44"],'
    b'["610530","238.7"],["610540","990.9"],["610830","33"],["610840",'
    b'"159.9"],["610880","100"],["610890","33"],["610900","913.87"],["610920",'
    b'"30.52"],["610970","480.74"],["610980","1500"],["610990","266.61"],'
    b'["611000","9672.99"],["611100","404.63"],["611150","56.25"],["611170",'
    b'"2011.71"],["611200","25.2"],["611210","10.17"],["611240","150"],'
    b'["611320","8.27"],["611350","76.6"],["611400","777.8"]],"bids":[['
    b'"610360","115.64"],["610350","525.38"],["610340","575.77"],["610330",'
    b'"421.83"],["610320","1943.17"],["610310","241.36"],["610300","3186.21"],'
    b'["610080","418.23"],["610050","167.12"],["610030","30"],["610010",'
    b'"31.14"],["610000","2989.86"],["609920","85.04"],["609910","58.72"],'
    b'["609900","2.05"],["609730","50"],["609700","729.81"],["609690",'
    b'"3608.06"],["609590","3.48"],["609580","17.48"],["609520","163.92"],'
    b'["609510","500"],["609500","3802.96"],["609460","86.27"]],'
    b'"lastTradePrice":"610490","lastUpdate":1727679775574}'
)
BOOK_TARGET = BOOK_SOURCE.replace(
    b'"lastTradePrice":"610490"', b'"lastTradePrice":"610360"'
).replace(b"1727679775574", b"1727679776413")
BOOK_DELTA = b"FS\nEx@0,2:36P@Ez,5:6413}icT15;"

ALPHA = b"0123456789abcdefghijklmnopqrstuvwxyz" * 2  # 72 bytes


@pytest.mark.parametrize(
    ("source", "target", "delta"),
    [
        (b"", b"", b"0\n0:0;"),
        (b"short", b"hello", b"5\n5:hello3NPMmh;"),  # source <= 16 bytes: one insert
        (ALPHA, ALPHA, b"18\n18@0,1QRCoO;"),  # 72 = "18": one copy
        (ALPHA, b"XY" + ALPHA[:40] + b"!!", b"h\n2:XYd@0,2:!!3lzsv5;"),
        (BOOK_SOURCE, BOOK_TARGET, BOOK_DELTA),
    ],
    ids=["empty", "small-source", "identical", "insert-copy-insert", "published-book"],
)
def test_known_vectors(source: bytes, target: bytes, delta: bytes) -> None:
    assert create_delta(source, target) == delta
    assert apply_delta(source, delta) == target
    assert oracle.apply_delta(source, delta) == target


def test_checksum_is_sum_of_big_endian_words() -> None:
    assert checksum(b"") == 0
    assert checksum(b"abcd") == 0x61626364
    assert checksum(b"hello") == (0x68656C6C + 0x6F000000) & 0xFFFFFFFF
    assert checksum(b"\xff" * 8) == (0xFFFFFFFF * 2) & 0xFFFFFFFF
    data = bytes(range(256)) * 3 + b"xyz"
    assert checksum(data) == oracle.checksum(data)


def test_output_size_reads_the_header() -> None:
    assert output_size(BOOK_DELTA) == len(BOOK_TARGET)


@settings(max_examples=400, deadline=None)
@given(source=st.binary(max_size=600), target=st.binary(max_size=600))
def test_round_trip_arbitrary(source: bytes, target: bytes) -> None:
    delta = create_delta(source, target)
    assert apply_delta(source, delta) == target
    assert oracle.apply_delta(source, delta) == target


@st.composite
def edited(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """A source and a target made of edits of it: where deltas really copy."""
    source = draw(st.binary(min_size=17, max_size=2000))
    target = bytearray(source)
    for _ in range(draw(st.integers(0, 6))):
        pos = draw(st.integers(0, len(target)))
        op = draw(st.sampled_from(["insert", "delete", "move"]))
        if op == "insert":
            target[pos:pos] = draw(st.binary(min_size=1, max_size=40))
        elif op == "delete":
            del target[pos : pos + draw(st.integers(1, 40))]
        else:
            start = draw(st.integers(0, len(source)))
            target[pos:pos] = source[start : start + draw(st.integers(1, 200))]
    return source, bytes(target)


@settings(max_examples=400, deadline=None)
@given(pair=edited())
def test_round_trip_edits(pair: tuple[bytes, bytes]) -> None:
    source, target = pair
    delta = create_delta(source, target)
    assert apply_delta(source, delta) == target
    assert oracle.apply_delta(source, delta) == target


def test_small_edit_of_large_payload_gives_small_delta() -> None:
    rnd = random.Random(7)
    source = bytes(rnd.randrange(256) for _ in range(64 * 1024))
    target = source[:30000] + b"changed" + source[30010:]
    delta = create_delta(source, target)
    assert len(delta) < 60
    assert oracle.apply_delta(source, delta) == target


@pytest.mark.parametrize(
    ("delta", "message"),
    [
        (b"", "integer expected"),
        (b"5", "unterminated"),
        (b"5!", "not terminated by"),
        (b"5\n5:hello", "unterminated"),
        (b"5\n5:hello3NPMmi;", "bad checksum"),
        (b"5\n4:hell3NPMmh;", "does not match predicted size"),
        (b"5\n6:hello!3NPMmh;", "insert exceeds output"),
        (b"9\n9:hello", "insert count exceeds"),
        (b"3\n3@0;", "not terminated by ','"),
        (b"3\n3@9,0;", "past end of input"),
        (b"3\n9@0,0;", "copy exceeds output"),
        (b"3\n3#0,0;", "unknown operator"),
        (b"3\n@0,0;", "integer expected"),
    ],
)
def test_corrupt_deltas_raise_value_error(delta: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        apply_delta(b"abcdef", delta)


def test_truncated_published_delta_is_rejected() -> None:
    with pytest.raises(ValueError):
        apply_delta(BOOK_SOURCE, BOOK_DELTA[:-1])
    tampered = BOOK_DELTA.replace(b"6413", b"6414")
    with pytest.raises(ValueError, match="bad checksum"):
        apply_delta(BOOK_SOURCE, tampered)
