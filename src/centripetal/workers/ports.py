"""The parent's check of the listening addresses before any worker starts (SV-01).

Workers bind the port themselves with ``SO_REUSEPORT`` (docs/scaling.md says why), which
would let them join sockets another process of the same user left listening there. So the
parent first binds every address *without* ``SO_REUSEPORT``: a port in use fails here, with
the error the single-process server gives, and nothing starts. Port 0 is resolved here too,
so every worker listens on the same port.
"""

from __future__ import annotations

import contextlib
import socket

__all__ = ["ListenError", "probe"]


class ListenError(OSError):
    """An address cannot be listened on; the message names it and the reason."""


def _addresses(host: str, port: int) -> list[tuple[int, tuple[object, ...]]]:
    infos = socket.getaddrinfo(
        host or None, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE
    )
    seen: list[tuple[int, tuple[object, ...]]] = []
    for family, _, _, _, address in infos:
        if (family, address) not in seen:
            seen.append((family, address))
    return seen


def probe(host: str, port: int) -> int:
    """Bind ``host:port`` (every address it resolves to, as the server does) and release it;
    return the port (the one the kernel chose when ``port`` is 0). Raises
    :class:`ListenError`."""
    shown = f"{host or '0.0.0.0'}:{port}"
    held: list[socket.socket] = []
    try:
        for family, address in _addresses(host, port):
            try:
                sock = socket.socket(family, socket.SOCK_STREAM)
            except OSError:  # a family this host lacks (no IPv6): the server skips it too
                continue
            held.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if port == 0 and len(held) > 1:
                address = (address[0], held[0].getsockname()[1], *address[2:])
            sock.bind(address)
        return int(held[0].getsockname()[1]) if held else port
    except OSError as exc:
        raise ListenError(f"cannot listen on {shown}: {exc.strerror or exc}") from exc
    finally:
        for sock in held:
            with contextlib.suppress(OSError):
                sock.close()
