"""The viewer's configuration: which cameras, which controller, where to serve."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from controller.rig import CameraSpec
from tetherfocus.errors import UsageError

DEFAULT_CONTROLLER = "tcp://127.0.0.1:5560"
DEFAULT_HTTP = "127.0.0.1:8080"


@dataclass(frozen=True, slots=True)
class ViewerConfig:
    """Everything :func:`viewer.app.make_app` needs.

    ``controller_pub`` defaults to the controller's host with its command port + 1
    (5560 → 5561, the defaults of docs/protocol.md).
    """

    cameras: tuple[CameraSpec, ...]
    controller: str = DEFAULT_CONTROLLER
    controller_pub: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    poll_period: float = 1.0  # seconds between controller ``status`` calls
    keys: Path | None = None  # CURVE keys directory: every ZeroMQ socket encrypted (viewer's key)
    token: str | None = None  # when set, every HTTP and WebSocket request must present it (viewer.auth)

    @property
    def events_endpoint(self) -> str:
        return self.controller_pub or default_controller_pub(self.controller)


def default_controller_pub(controller: str) -> str:
    """``tcp://h:5560`` → ``tcp://h:5561``.  Raises UsageError for other endpoint kinds."""
    parts = urlsplit(controller)
    try:
        port = parts.port
    except ValueError:  # out of 0-65535: the endpoint checks say so first
        port = None
    if parts.scheme != "tcp" or port is None or port >= 65535:
        raise UsageError(
            f"cannot guess the controller's event endpoint from {controller!r}; give --controller-pub"
        )
    host = parts.hostname or "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"tcp://{host}:{port + 1}"


def parse_http(value: str) -> tuple[str, int]:
    """``"127.0.0.1:8080"`` → ``("127.0.0.1", 8080)``.  Raises UsageError."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError(f"--http {value!r} must be HOST:PORT, e.g. 127.0.0.1:8080")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)
