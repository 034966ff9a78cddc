"""ZeroMQ endpoints as people type them: one check for every flag and file that takes one.

``tcp://HOST:PORT`` (HOST a name, an IPv4 address or a bracketed IPv6 one; PORT 1-65535,
or ``*`` where the endpoint is bound: any free port), ``ipc://PATH`` or ``inproc://NAME``.
"""

from __future__ import annotations

import re

_TCP_RE = re.compile(r"^tcp://([^\s:/\[\]]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5}|\*)$")
_OTHER_RE = re.compile(r"^(ipc|inproc)://\S+$")


def endpoint_problem(value: object, *, bind: bool = False) -> str | None:
    """What is wrong with ``value`` as an endpoint (to ``bind``, or to connect to); None if
    nothing.  ZeroMQ itself would take port 99999 as 34463 (modulo 65536)."""
    if not isinstance(value, str):
        return "is not a string"
    if _OTHER_RE.match(value):
        return None
    m = _TCP_RE.match(value)
    if m is None:
        return "is not tcp://HOST:PORT, ipc://PATH or inproc://NAME"
    host, port = m.group(1), m.group(2)
    if host == "*" and not bind:
        return "needs a host to connect to, not *"
    if port == "*":
        return None if bind else "needs a port number to connect to, not *"
    if not 1 <= int(port) <= 65535:
        return f"has port {int(port)}; ports are 1 to 65535"
    return None
