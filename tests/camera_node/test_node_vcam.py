"""The gphoto2 backend against libgphoto2's own virtual camera, in a node subprocess.

The python-gphoto2 wheel carries libgphoto2's "vcamera" (VCAMERADIR points it at a folder
of JPEGs; it must be set before gphoto2 is imported, hence the subprocess).  It supports
connect, summary, configuration get/set and capture with download; it has no live view and
no focus drive, which the node must report as not_supported while everything else works.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.camera_node.nodeproc import NodeProc
from tetherfocus.client import Client, RemoteError

pytestmark = pytest.mark.live


@pytest.fixture
def vcam_node(node_factory: Callable[..., NodeProc], tmp_path: Path) -> tuple[NodeProc, set[str]]:
    folder = tmp_path / "vcam"
    folder.mkdir()
    digests = set()
    for i in range(3):
        buf = io.BytesIO()
        Image.new("RGB", (320, 240), (40 * i, 120, 200)).save(buf, "JPEG")
        (folder / f"shot{i}.jpg").write_bytes(buf.getvalue())
        digests.add(hashlib.sha256(buf.getvalue()).hexdigest())
    node = node_factory("--camera", "gphoto2", env={"VCAMERADIR": str(folder)})
    return node, digests


def test_virtual_camera_works_and_lacks_liveview_and_focus(vcam_node: tuple[NodeProc, set[str]]) -> None:
    node, digests = vcam_node
    with Client(node.rep, timeout=20) as c:
        info = c.call("info")
        assert info["backend"] == "gphoto2" and info["make"] and info["model"]
        assert "capture" in info["capabilities"] and "config" in info["capabilities"]
        assert not {"liveview", "focus.levels", "focus.steps", "zoom"} & set(info["capabilities"])
        status = c.call("status")
        assert status["state"] == "idle"
        assert status["versions"]["libgphoto2"].startswith("2.5")

        cases: list[tuple[str, dict[str, Any]]] = [
            ("liveview.start", {}),
            ("focus.drive", {"direction": "near", "level": 1}),
            ("focus.drive", {"steps": 10}),
            ("focus.home", {}),
            ("focus.goto", {"position": 10.0}),
            ("zoom.set", {"zoom": 5}),
        ]
        for cmd, args in cases:
            with pytest.raises(RemoteError) as err:
                c.call(cmd, args)
            assert err.value.code == "not_supported", (cmd, err.value.message)

        items = {i["name"]: i for i in c.call("config.list")["items"]}
        assert items["thumbsize"]["type"] == "radio" and "large" in items["thumbsize"]["choices"]
        assert items["serialnumber"]["readonly"]
        assert c.call("config.set", {"name": "thumbsize", "value": "large"})["item"]["value"] == "large"
        assert c.call("config.get", {"name": "thumbsize"})["item"]["value"] == "large"
        with pytest.raises(RemoteError) as err:
            c.call("config.set", {"name": "thumbsize", "value": "huge"})
        assert err.value.code == "bad_args"
        with pytest.raises(RemoteError) as err:
            c.call("config.get", {"name": "nosuchwidget"})
        assert err.value.code == "not_found"

        shot = c.call("capture", {"download": True})
        assert hashlib.sha256(shot["data"]).hexdigest() == shot["sha256"]
        assert shot["sha256"] in digests and shot["size"] == len(shot["data"])
        assert shot["mime"] == "image/jpeg"
        assert c.call("status")["state"] == "idle"  # and the node goes on
    assert node.stop() == 0
