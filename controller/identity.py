"""Finding the rig's nodes over mDNS / DNS-SD, and naming them by serial number.

:func:`discover` listens for ``_tetherfocus._tcp.local.`` announcements
(:mod:`camera_node.discovery`) for a few seconds on the given IPv4 interfaces and returns
what answered.  :func:`rig_from` turns that into a :class:`~controller.rig.Rig`: each
camera is named as the state directory knows its serial (so a node that came back on
another port or host keeps its name), else as the node calls itself.

Errors: :func:`discover` raises :class:`tetherfocus.errors.UsageError` when it cannot
listen on an interface.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from controller.rig import CameraSpec, Rig, valid_name
from controller.state import StateStore
from tetherfocus.errors import UsageError

SERVICE_TYPE = "_tetherfocus._tcp.local."


@dataclass(frozen=True, slots=True)
class Found:
    instance: str
    name: str
    serial: str
    make: str
    model: str
    address: str
    rep: str
    pub: str
    spec: str


def _txt(props: dict[bytes, bytes | None], key: str) -> str:
    v = props.get(key.encode())
    return v.decode("utf-8", "replace") if v else ""


def discover(seconds: float, interfaces: Sequence[str]) -> list[Found]:
    """Every node that announced itself within ``seconds``, sorted by name.  Raises UsageError."""
    from zeroconf import IPVersion, ServiceBrowser, ServiceStateChange, Zeroconf

    try:
        zc = Zeroconf(interfaces=list(interfaces), ip_version=IPVersion.V4Only)
    except OSError as exc:
        raise UsageError(f"cannot listen for mDNS on {', '.join(interfaces)}: {exc}") from None
    names: set[str] = set()

    def on_change(zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if state_change is not ServiceStateChange.Removed:
            names.add(name)

    found: dict[str, Found] = {}
    try:
        browser = ServiceBrowser(zc, SERVICE_TYPE, handlers=[on_change])
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        browser.cancel()
        for name in sorted(names):
            info = zc.get_service_info(SERVICE_TYPE, name, timeout=1500)
            if info is None:
                continue
            addrs = info.parsed_addresses(IPVersion.V4Only)
            if not addrs or info.port is None:
                continue
            address = next((a for a in addrs if a in interfaces or not a.startswith("127.")), addrs[0])
            props = info.properties
            pub = _txt(props, "pub")
            f = Found(
                instance=name.removesuffix("." + SERVICE_TYPE),
                name=_txt(props, "name"),
                serial=_txt(props, "serial"),
                make=_txt(props, "make"),
                model=_txt(props, "model"),
                address=address,
                rep=f"tcp://{address}:{info.port}",
                pub=f"tcp://{address}:{pub}" if pub.isdigit() else "",
                spec=_txt(props, "spec"),
            )
            found[f.serial or f.instance] = f
    finally:
        zc.close()
    return sorted(found.values(), key=lambda f: (f.name, f.serial))


def rig_from(found: Sequence[Found], state: StateStore | None = None, rig_name: str = "rig") -> Rig:
    """A rig of what was found; names and regions from ``state`` by serial when known."""
    cams: list[CameraSpec] = []
    used: set[str] = set()
    for f in found:
        st = state.get(f.serial) if (state is not None and f.serial) else None
        name = (st.name if st is not None and st.name else None) or f.name or f.instance
        if not valid_name(name):
            name = "cam"
        base, n = name, 2
        while name in used:
            name, n = f"{base}-{n}", n + 1
        used.add(name)
        roi = tuple(st.roi) if st is not None and st.roi else None
        cams.append(
            CameraSpec(
                name=name,
                rep=f.rep,
                pub=f.pub or None,
                serial=f.serial or None,
                **({"roi": roi} if roi else {}),  # type: ignore[arg-type]
            )
        )
    return Rig(tuple(cams), rig_name)
