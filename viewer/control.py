"""Carrying out a checked action through the controller, and keeping captured files.

:func:`run_action` sends one :class:`~viewer.actions.ControllerCall` and shapes the reply for
the browser.  A capture's bytes are kept in a small :class:`CaptureStore` and the browser
gets a download link instead of the bytes.

Errors: :func:`run_action` raises :class:`~viewer.actions.ActionError` carrying the
controller's error code (or ``timeout`` when the controller does not answer).
"""

from __future__ import annotations

import hashlib
import itertools
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from protocol import ErrorCode
from tetherfocus.client import AsyncClient, RemoteError
from viewer.actions import ActionError, ControllerCall
from viewer.feeds import Hub
from viewer.jsonutil import jsonable

MAX_CAPTURES = 16
MAX_CAPTURE_BYTES = 1 << 30  # total kept in memory
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class Capture:
    id: str
    camera: str
    name: str  # file name for the download
    mime: str
    data: bytes
    sha256: str | None
    t: float  # viewer wall clock when it arrived


class CaptureStore:
    """The last few captures, by id; the oldest go first when count or bytes exceed the caps."""

    def __init__(self, max_items: int = MAX_CAPTURES, max_bytes: int = MAX_CAPTURE_BYTES) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, Capture] = OrderedDict()
        self._ids = itertools.count(1)

    def add(self, camera: str, name: str, mime: str, data: bytes, sha256: str | None) -> Capture:
        safe = _SAFE_NAME.sub("_", name).strip("._") or "capture.jpg"
        cap = Capture(f"{next(self._ids)}", camera, f"{camera}-{safe}", mime, data, sha256, time.time())
        self._items[cap.id] = cap
        while len(self._items) > self.max_items or (
            len(self._items) > 1 and sum(len(c.data) for c in self._items.values()) > self.max_bytes
        ):
            self._items.popitem(last=False)
        return cap

    def get(self, cap_id: str) -> Capture | None:
        return self._items.get(cap_id)


async def run_action(
    call: ControllerCall, controller: AsyncClient, hub: Hub, captures: CaptureStore
) -> dict[str, Any]:
    """Send ``call`` to the controller; return the JSON-safe result for the browser.

    Raises ActionError with the controller's error code, or ``timeout``.
    """
    try:
        result = await controller.call(call.cmd, call.args, timeout=call.timeout)
    except RemoteError as exc:
        raise ActionError(exc.code, exc.message) from None
    feed = hub.get(call.camera)
    if call.action == "roi" and feed is not None:
        roi = result.get("roi", call.args["roi"])
        if isinstance(roi, list | tuple) and len(roi) == 4:
            feed.roi = [float(v) for v in roi]
        hub.state_changed()
    elif call.action == "autofocus" and feed is not None:
        run_id = result.get("run_id")
        if isinstance(run_id, int):
            roi = result.get("roi")
            feed.af.start(
                run_id, result.get("strategy"), list(roi) if isinstance(roi, list | tuple) else None
            )
            if isinstance(roi, list | tuple) and len(roi) == 4:
                feed.roi = [float(v) for v in roi]
            hub.state_changed()
    elif call.cmd == "node.call":
        node_result = result.get("result", {})
        if not isinstance(node_result, dict):
            node_result = {}
        if call.action == "capture":
            return _capture(call.camera, node_result, captures)
        return dict(jsonable(node_result))
    return dict(jsonable(result))


def _capture(camera: str, res: dict[str, Any], captures: CaptureStore) -> dict[str, Any]:
    data = res.get("data")
    if not isinstance(data, bytes):
        raise ActionError(ErrorCode.CAMERA_ERROR, "the capture came back without its bytes")
    name = res.get("name") if isinstance(res.get("name"), str) else "capture.jpg"
    mime = res.get("mime") if isinstance(res.get("mime"), str) else "application/octet-stream"
    sha = res.get("sha256") if isinstance(res.get("sha256"), str) else None
    # never report a shot ok unless its bytes arrived whole: length and sha256 must match
    if res.get("size") != len(data) or sha is None or hashlib.sha256(data).hexdigest() != sha:
        raise ActionError(
            ErrorCode.CAMERA_ERROR,
            f"the capture arrived damaged ({len(data)} bytes; the node said {res.get('size')}, sha256 {sha})",
        )
    cap = captures.add(camera, str(name), str(mime), data, sha)
    return {
        "name": cap.name,
        "size": len(data),
        "sha256": sha,
        "mime": cap.mime,
        "url": f"/captures/{cap.id}/{cap.name}",
    }
