"""Fossil delta encoding: the ``fossil`` delta type of delta compression (HR-09, P-42 ``delta``).

Theory of operation
-------------------
A delta turns a *source* (the previous publication's data) into a *target* (the new one). It is
text: a header ``<target length>\\n``, then commands, each an integer followed by an operator:

* ``<count>@<offset>,`` copy ``count`` bytes of the source starting at ``offset``;
* ``<count>:<bytes>`` insert the next ``count`` literal bytes of the delta;
* ``<checksum>;`` end; the checksum of the produced target must match.

Integers are written big-endian in base 64 with the digits ``0-9 A-Z _ a-z ~``. The checksum is
the sum, modulo 2**32, of the target read as big-endian 32-bit words (zero-padded at the end).

The encoder is the Fossil SCM one: the source is cut into 16-byte blocks indexed by a rolling
hash; a window slides over the target, and for each position up to 250 candidate blocks with
the same hash are extended forwards and backwards. The longest match that is worth its copy
command wins; bytes before it become an insert. The work is linear in the target size.
Deltas produced here are applied by every client SDK (centrifuge-js, centrifuge-python, ...).
"""

from __future__ import annotations

import struct

__all__ = ["apply_delta", "checksum", "create_delta", "output_size"]

_NHASH = 16
_MAX_CANDIDATES = 250
_DIGITS = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~"
_DIGIT_VALUE: dict[int, int] = {ch: value for value, ch in enumerate(_DIGITS)}


def _put_int(out: bytearray, value: int) -> None:
    """Append ``value`` in the base-64 digit alphabet."""
    if value == 0:
        out.append(0x30)
        return
    digits = bytearray()
    while value > 0:
        digits.append(_DIGITS[value & 0x3F])
        value >>= 6
    digits.reverse()
    out += digits


def _digit_count(value: int) -> int:
    """How many base-64 digits ``value`` takes."""
    count = 1
    limit = 64
    while value >= limit:
        count += 1
        limit <<= 6
    return count


def checksum(data: bytes) -> int:
    """The 32-bit checksum that terminates a delta (sum of big-endian words)."""
    pad = (-len(data)) % 4
    if pad:
        data = bytes(data) + b"\x00" * pad
    words = struct.unpack(f">{len(data) // 4}I", data)
    return sum(words) & 0xFFFFFFFF


def _forward_match(src: bytes, si: int, tgt: bytes, ti: int, limit: int) -> int:
    """Length of the common prefix of ``src[si:]`` and ``tgt[ti:]``, at most ``limit``."""
    n = 0
    step = 1
    while n + step <= limit and src[si + n : si + n + step] == tgt[ti + n : ti + n + step]:
        n += step
        step <<= 1
    while step > 1:
        step >>= 1
        if n + step <= limit and src[si + n : si + n + step] == tgt[ti + n : ti + n + step]:
            n += step
    return n


def _backward_match(src: bytes, si: int, tgt: bytes, ti: int, limit: int) -> int:
    """Length of the common suffix of ``src[:si]`` and ``tgt[:ti]``, at most ``limit``."""
    n = 0
    step = 1
    while n + step <= limit and src[si - n - step : si - n] == tgt[ti - n - step : ti - n]:
        n += step
        step <<= 1
    while step > 1:
        step >>= 1
        if n + step <= limit and src[si - n - step : si - n] == tgt[ti - n - step : ti - n]:
            n += step
    return n


def _block_hash(data: bytes, start: int) -> tuple[int, int]:
    """Rolling-hash state ``(a, b)`` of ``data[start:start + 16]``."""
    a = 0
    b = 0
    for k in range(_NHASH):
        x = data[start + k]
        a += x
        b += (_NHASH - k) * x
    return a & 0xFFFF, b & 0xFFFF


def _insert(out: bytearray, data: bytes) -> None:
    _put_int(out, len(data))
    out.append(0x3A)  # ':'
    out += data


def create_delta(source: bytes, target: bytes) -> bytes:
    """Return a Fossil delta that turns ``source`` into ``target`` (HR-09)."""
    src = bytes(source)
    tgt = bytes(target)
    len_src = len(src)
    len_tgt = len(tgt)
    out = bytearray()
    _put_int(out, len_tgt)
    out.append(0x0A)

    if len_src <= _NHASH:
        _insert(out, tgt)
        _put_int(out, checksum(tgt))
        out.append(0x3B)
        return bytes(out)

    n_hash = len_src // _NHASH
    collide = [-1] * n_hash
    landmark = [-1] * n_hash
    for start in range(0, len_src - _NHASH, _NHASH):
        a, b = _block_hash(src, start)
        hv = (a | (b << 16)) % n_hash
        block = start // _NHASH
        collide[block] = landmark[hv]
        landmark[hv] = block

    base = 0
    while base + _NHASH < len_tgt:
        best_cnt = 0
        best_ofst = 0
        best_lit = 0
        a, b = _block_hash(tgt, base)
        i = 0
        while True:
            hv = (a | (b << 16)) % n_hash
            block = landmark[hv]
            budget = _MAX_CANDIDATES
            pos = base + i
            while block >= 0 and budget > 0:
                budget -= 1
                i_src = block * _NHASH
                # Cheap one-byte probes first: most candidates do not match at all.
                fwd = 0
                if src[i_src] == tgt[pos]:
                    fwd = _forward_match(src, i_src, tgt, pos, min(len_src - i_src, len_tgt - pos))
                bwd = 0
                if i > 0 and i_src > 1 and src[i_src - 1] == tgt[pos - 1]:
                    bwd = _backward_match(src, i_src, tgt, pos, min(i_src - 1, i))
                cnt = fwd + bwd
                if cnt <= best_cnt:
                    block = collide[block]
                    continue
                ofst = i_src - bwd
                cost = _digit_count(i - bwd) + _digit_count(cnt) + _digit_count(ofst) + 3
                if cnt >= cost and cnt > best_cnt:
                    best_cnt = cnt
                    best_ofst = ofst
                    best_lit = i - bwd
                block = collide[block]
            if best_cnt > 0:
                if best_lit > 0:
                    _insert(out, tgt[base : base + best_lit])
                    base += best_lit
                _put_int(out, best_cnt)
                out.append(0x40)  # '@'
                _put_int(out, best_ofst)
                out.append(0x2C)  # ','
                base += best_cnt
                break
            if pos + _NHASH >= len_tgt:
                _insert(out, tgt[base:])
                base = len_tgt
                break
            old = tgt[pos]
            a = (a - old + tgt[pos + _NHASH]) & 0xFFFF
            b = (b - _NHASH * old + a) & 0xFFFF
            i += 1

    if base < len_tgt:
        _insert(out, tgt[base:])
    _put_int(out, checksum(tgt))
    out.append(0x3B)  # ';'
    return bytes(out)


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def read_int(self) -> int:
        data = self.data
        start = self.pos
        value = 0
        while self.pos < len(data):
            digit = _DIGIT_VALUE.get(data[self.pos])
            if digit is None:
                break
            value = (value << 6) | digit
            self.pos += 1
        if self.pos == start:
            raise ValueError(f"fossil delta: integer expected at byte {start}")
        return value

    def read_char(self) -> int:
        if self.pos >= len(self.data):
            raise ValueError("fossil delta: unterminated delta")
        ch = self.data[self.pos]
        self.pos += 1
        return ch


def output_size(delta: bytes) -> int:
    """The target length announced in a delta's header."""
    reader = _Reader(bytes(delta))
    size = reader.read_int()
    if reader.read_char() != 0x0A:
        raise ValueError("fossil delta: size integer not terminated by '\\n'")
    return size


def apply_delta(source: bytes, delta: bytes) -> bytes:
    """Apply a Fossil ``delta`` to ``source``; raise ``ValueError`` on corrupt input."""
    src = bytes(source)
    reader = _Reader(bytes(delta))
    limit = reader.read_int()
    if reader.read_char() != 0x0A:
        raise ValueError("fossil delta: size integer not terminated by '\\n'")
    out = bytearray()
    data = reader.data
    while reader.pos < len(data):
        count = reader.read_int()
        op = reader.read_char()
        if op == 0x40:  # '@' copy
            offset = reader.read_int()
            if reader.read_char() != 0x2C:
                raise ValueError("fossil delta: copy command not terminated by ','")
            if len(out) + count > limit:
                raise ValueError("fossil delta: copy exceeds output file size")
            if offset + count > len(src):
                raise ValueError("fossil delta: copy extends past end of input")
            out += src[offset : offset + count]
        elif op == 0x3A:  # ':' insert
            if len(out) + count > limit:
                raise ValueError("fossil delta: insert exceeds output file size")
            if reader.pos + count > len(data):
                raise ValueError("fossil delta: insert count exceeds size of delta")
            out += data[reader.pos : reader.pos + count]
            reader.pos += count
        elif op == 0x3B:  # ';' end
            if len(out) != limit:
                raise ValueError("fossil delta: generated size does not match predicted size")
            if count != checksum(bytes(out)):
                raise ValueError("fossil delta: bad checksum")
            return bytes(out)
        else:
            raise ValueError(f"fossil delta: unknown operator {chr(op)!r}")
    raise ValueError("fossil delta: unterminated delta")
