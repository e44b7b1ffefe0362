"""`--llm-block-network`: refuse connections to anything but loopback while a test runs.

Two layers. `socket.socket.connect` / `connect_ex` are wrapped, which covers what Python
code connects through (httpx, httpcore, asyncio's selector loop, urllib, requests). An
audit hook on the "socket.connect" event then covers what bypasses those methods: the C
`_socket.socket` used directly, or a subclass that overrides `connect`. Connections made
entirely in C libraries (libcurl, gRPC core, uvloop) raise no audit event and are not seen.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
import sys
from collections.abc import Iterator
from typing import Any


class NetworkBlocked(ConnectionRefusedError):
    """A connection that --llm-block-network refused."""


def _allowed(address: Any) -> bool:
    if not isinstance(address, tuple):  # AF_UNIX paths and the like stay on this machine
        return True
    host = str(address[0])
    if host == "localhost" or any(pattern.match(host) for pattern in _allowed_hosts):
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback  # fe80::1%eth0
    except ValueError:
        return False


def _check(address: Any) -> None:
    if not _allowed(address):
        option = _options[-1] if _options else "--llm-block-network"
        allowed = "loopback and the allowed hosts are" if _allowed_hosts else "only loopback is"
        raise NetworkBlocked(
            f"pytest-llm: {option} refused a connection to {address[0]}:"
            f"{address[1]}; {allowed} allowed in this test"
        )


# Audit hooks cannot be removed, so the hook is added once per process and consults this
# count of open `blocked()` blocks: process-wide state by nature, like the hook itself.
_active = [0]
_hooked: list[bool] = []
# Regexes of the hosts an open block lets through too (pytest-recording's allowed_hosts).
_allowed_hosts: list[re.Pattern[str]] = []
_options: list[str] = []  # the option that opened each block, for the message


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _active[0] and event == "socket.connect":
        _check(args[1])


@contextlib.contextmanager
def blocked(
    allowed_hosts: tuple[str, ...] = (), option: str = "--llm-block-network"
) -> Iterator[None]:
    """Within the block, a non-loopback connect raises NetworkBlocked naming the address.

    `allowed_hosts` are regexes of more hosts (addresses) to let through.
    """
    patterns = [re.compile(host) for host in allowed_hosts]
    if not _hooked:
        sys.addaudithook(_audit)
        _hooked.append(True)
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex

    def connect(self: socket.socket, address: Any) -> None:
        _check(address)
        original_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        _check(address)
        return original_connect_ex(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
    _active[0] += 1
    _allowed_hosts.extend(patterns)
    _options.append(option)
    try:
        yield
    finally:
        _active[0] -= 1
        _options.pop()
        for pattern in patterns:
            _allowed_hosts.remove(pattern)
        socket.socket.connect = original_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = original_connect_ex  # type: ignore[method-assign]
