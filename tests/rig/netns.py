"""A small private network for rig tests: a hub namespace and camera namespaces.

::

    hub namespace (controller, discovery, nodes on its own 127.0.0.1)
      br0 10.77.N.1/24
       ├── veth ── namespace <prefix>-c1: eth0 10.77.N.11/24 (a node)
       ├── veth ── namespace <prefix>-c2: eth0 10.77.N.12/24
       └── ...

Every address lives inside the namespaces made here; the host's own interfaces and
routes are never touched.  :meth:`Net.destroy` removes every namespace (and with them the
veths and the bridge).  Needs root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=20)


def available() -> str | None:
    """None when namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "needs root"
    if shutil.which("ip") is None:
        return "needs iproute2 (ip)"
    probe = f"tf7probe{os.getpid()}"
    try:
        _ip("netns", "add", probe)
        _ip("netns", "del", probe)
    except (subprocess.CalledProcessError, OSError) as exc:
        return f"ip netns does not work here: {exc}"
    return None


@dataclass
class Net:
    prefix: str
    subnet: int  # the third octet of 10.77.N.0/24
    cameras: int
    made: list[str] = field(default_factory=list)

    @property
    def hub(self) -> str:
        return f"{self.prefix}-hub"

    @property
    def hub_addr(self) -> str:
        return f"10.77.{self.subnet}.1"

    def ns(self, i: int) -> str:
        return f"{self.prefix}-c{i}"

    def addr(self, i: int) -> str:
        return f"10.77.{self.subnet}.{10 + i}"

    def exec_argv(self, ns: str, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", ns, *argv]

    def create(self) -> None:
        """Raises subprocess.CalledProcessError (after cleaning up what was made)."""
        try:
            _ip("netns", "add", self.hub)
            self.made.append(self.hub)
            h = ("-n", self.hub)
            _ip(*h, "link", "set", "lo", "up")
            _ip(*h, "link", "add", "br0", "type", "bridge")
            _ip(*h, "addr", "add", f"{self.hub_addr}/24", "dev", "br0")
            _ip(*h, "link", "set", "br0", "up")
            for i in range(1, self.cameras + 1):
                ns = self.ns(i)
                _ip("netns", "add", ns)
                self.made.append(ns)
                _ip("-n", ns, "link", "set", "lo", "up")
                _ip(
                    "-n",
                    ns,
                    "link",
                    "add",
                    "eth0",
                    "type",
                    "veth",
                    "peer",
                    "name",
                    f"p{i}",
                    "netns",
                    self.hub,
                )
                _ip("-n", ns, "addr", "add", f"{self.addr(i)}/24", "dev", "eth0")
                _ip("-n", ns, "link", "set", "eth0", "up")
                _ip(*h, "link", "set", f"p{i}", "master", "br0")
                _ip(*h, "link", "set", f"p{i}", "up")
        except BaseException:
            self.destroy()
            raise

    def destroy(self) -> None:
        for ns in reversed(self.made):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)
        self.made.clear()
