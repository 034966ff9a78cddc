"""A node announces itself over mDNS / DNS-SD (python-zeroconf), so rigs find their cameras.

Service type ``_tetherfocus._tcp.local.``; the instance is ``<name>-<serial>``; the SRV
port is the command (ROUTER) port.  TXT records:

| key | value |
|---|---|
| ``name`` | the node's camera name |
| ``serial`` | the body's serial number ('' when unknown) |
| ``make``, ``model`` | the body |
| ``rep``, ``pub`` | the command and PUB ports |
| ``proto``, ``spec`` | protocol major version, specification version |
| ``backend`` | sim or gphoto2 |

Where it is announced: on the interfaces whose IPv4 addresses ``--advertise`` names; with
none named, on the address the command socket is bound to (127.0.0.1 by default: only
that host hears it), or on every interface when the node binds ``*``.  It is off unless
``--advertise`` is given: a node bound to loopback has nothing to announce to a network.

The announcement starts once the camera has been tried (the serial is known then), is
refreshed when the camera reopens, and is withdrawn at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from protocol import PROTOCOL_VERSION, SPEC_VERSION

if TYPE_CHECKING:
    from camera_node.service import Node

log = logging.getLogger(__name__)

SERVICE_TYPE = "_tetherfocus._tcp.local."
_LABEL_RE = re.compile(r"[^A-Za-z0-9-]")


def port_of(endpoint: str) -> int:
    return int(urlsplit(endpoint).port or 0)


def host_of(endpoint: str) -> str:
    return urlsplit(endpoint).hostname or "*"


def interfaces_for(advertise: Sequence[str], rep_endpoint: str) -> list[str] | None:
    """IPv4 addresses to announce on; None means every interface."""
    if advertise:
        return list(advertise)
    host = host_of(rep_endpoint)
    if host in ("*", "0.0.0.0"):
        return None
    try:
        socket.inet_aton(host)
    except OSError:
        return ["127.0.0.1"]
    return [host]


def instance_name(name: str, serial: str) -> str:
    label = f"{name}-{serial}" if serial else name
    return _LABEL_RE.sub("-", label)[:60]


def txt(node: Node) -> dict[str, str]:
    cam = node.info
    return {
        "name": node.name,
        "serial": cam.serial if cam else "",
        "make": cam.make if cam else "",
        "model": cam.model if cam else "",
        "rep": str(port_of(node.rep_endpoint)),
        "pub": str(node.publisher.port),
        "proto": str(PROTOCOL_VERSION),
        "spec": SPEC_VERSION,
        "backend": node.config.camera.kind,
    }


async def advertise(node: Node, addresses: Sequence[str]) -> None:
    """Announce ``node`` until cancelled (then withdraw it).  Never raises for network trouble:
    a node without its announcement still works from a rig file."""
    from zeroconf import InterfaceChoice, IPVersion, ServiceInfo
    from zeroconf.asyncio import AsyncZeroconf

    await node.started.wait()
    ifaces = interfaces_for(addresses, node.rep_endpoint)
    announce = ifaces or _all_ipv4()
    try:
        aiozc = AsyncZeroconf(
            interfaces=ifaces if ifaces is not None else InterfaceChoice.All, ip_version=IPVersion.V4Only
        )
    except OSError as exc:
        log.warning("mDNS: cannot open on %s: %s; not announcing", ifaces or "all interfaces", exc)
        return
    info: Any = None
    serial = None
    try:
        while True:
            cam = node.info
            if cam is not None and cam.serial != serial:
                serial = cam.serial
                props = txt(node)
                new = ServiceInfo(
                    SERVICE_TYPE,
                    f"{instance_name(node.name, serial)}.{SERVICE_TYPE}",
                    addresses=[socket.inet_aton(a) for a in announce],
                    port=port_of(node.rep_endpoint),
                    properties=props,
                    server=f"{instance_name(node.name, serial)}.local.",
                )
                if info is not None:
                    await aiozc.async_unregister_service(info)
                await aiozc.async_register_service(new, allow_name_change=True)
                info = new
                log.info("mDNS: announced %s on %s", new.name, ", ".join(announce))
            await asyncio.sleep(2.0)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # zeroconf trouble must not take the node down
        log.warning("mDNS: announcement stopped: %s", exc)
    finally:
        try:
            if info is not None:
                await asyncio.wait_for(aiozc.async_unregister_service(info), 1.0)
        except Exception:
            pass
        await aiozc.async_close()


def _all_ipv4() -> list[str]:
    from zeroconf._utils.net import get_all_addresses

    return [a for a in get_all_addresses() if not a.startswith("127.")] or ["127.0.0.1"]
