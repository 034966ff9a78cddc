"""Every command of every service, as data.

The node and the controller dispatch exactly these names (a test checks it), and
docs/protocol.md documents exactly these names (another test checks that).
"""

from __future__ import annotations

from protocol.errors import ErrorCode as E
from protocol.schema import Arg, CommandSpec

_COMMON_ERRORS = (E.BAD_REQUEST, E.UNSUPPORTED_VERSION, E.UNKNOWN_COMMAND, E.INTERNAL)
# every command that talks to the camera: not_ready while it is still opening, camera_error
# (details.camera_lost) while it is lost, timeout past the node's bound
_CAMERA_ERRORS = (E.NOT_READY, E.CAMERA_ERROR, E.TIMEOUT)
# autofocus and rig.focus_all: which search
_STRATEGY = Arg(
    "strategy",
    "str",
    "'default', 'refocus' (default, starting from what the camera's last run on the same"
    " region found) or 'sweep'",
    default="default",
    choices=("default", "refocus", "sweep"),
)

NODE_COMMAND_LIST: tuple[CommandSpec, ...] = (
    CommandSpec(
        "info",
        "Describe the node and its camera; tells a client where the frames are published.",
        result=(
            ("name", "str: the node's camera name"),
            ("make", "str"),
            ("model", "str"),
            ("serial", "str: the body's serial number ('' when unknown)"),
            ("backend", "str: 'sim' or 'gphoto2'"),
            ("capabilities", "list[str]: of liveview, focus.levels, focus.steps, zoom, capture, config"),
            ("zoom_levels", "list[int]: live-view magnifications, e.g. [1, 5, 10]"),
            ("protocol", "int: the protocol major version"),
            ("spec", "str: the specification version"),
            ("version", "str: the tetherfocus version"),
            ("pub", "str: the PUB endpoint as bound, e.g. 'tcp://127.0.0.1:5555'"),
            ("pub_port", "int: the PUB port, for a client that knows only the command endpoint"),
            ("motion", "map: the motor model used for settle estimates (level_sizes, latency_s, ...)"),
            ("state", "str: the node's state, as in status"),
        ),
    ),
    CommandSpec(
        "status",
        "The node's state now (the same fields as the status event).",
        result=(
            ("state", "str: starting, liveview, idle, busy or camera_lost"),
            ("fps", "float: measured live-view frames per second"),
            ("frames", "int: frames published since start"),
            ("dropped", "int: frames the camera failed to deliver"),
            ("move_id", "int"),
            ("position", "float or null: dead-reckoned, level-1 units"),
            ("homed", "bool"),
            ("zoom", "int"),
            ("busy", "str or null: the long command running"),
            ("versions", "map: tetherfocus, protocol, spec, python, pyzmq, libzmq, backend (+ libgphoto2)"),
        ),
    ),
    CommandSpec(
        "liveview.start",
        "Start live view (raises the mirror: about 1.2 s on a DSLR) and frame publishing.",
        result=(("state", "str"),),
        errors=(E.NOT_SUPPORTED, *_CAMERA_ERRORS, E.BUSY),
        long=True,
    ),
    CommandSpec(
        "liveview.stop",
        "Stop live view and frame publishing.",
        result=(("state", "str"),),
        errors=(*_CAMERA_ERRORS, E.BUSY),
    ),
    CommandSpec(
        "focus.drive",
        "Drive the focus motor: Canon levels {direction, level, count} or integer {steps}."
        " Returns once the drives are issued; there is no completion signal, use move_id"
        " and settled in later frame headers.",
        args=(
            Arg("direction", "str", "near or far", choices=("near", "far")),
            Arg("level", "int", "1 (about 1 unit), 2 (about 6.4), 3 (about 47)", minimum=1, maximum=3),
            Arg("count", "int", "how many drives of that level", default=1, minimum=1, maximum=50),
            Arg(
                "steps",
                "int",
                "signed integer steps, negative is near (bodies with focus.steps)",
                minimum=-10000,
                maximum=10000,
            ),
        ),
        one_of=(("direction", "level"), ("steps",)),
        result=(
            ("move_id", "int: the id frames will carry once this move is under way"),
            ("settle_s", "float: seconds from now until the node expects the motor at rest"),
            ("settle_at", "float: the same, on the node's clock (frame header 't')"),
            ("position", "float or null: the new dead-reckoned position"),
        ),
        errors=(E.BAD_ARGS, E.NOT_SUPPORTED, E.BUSY, *_CAMERA_ERRORS),
    ),
    CommandSpec(
        "focus.home",
        "Drive to the near end stop, detected when frames stop changing, and zero the position.",
        args=(
            Arg(
                "max_drives",
                "int",
                "give up after this many level-3 drives",
                default=40,
                minimum=1,
                maximum=400,
            ),
        ),
        result=(("move_id", "int"), ("position", "float: 0"), ("drives", "int: drives used")),
        errors=(E.NOT_SUPPORTED, E.BUSY, *_CAMERA_ERRORS),
        long=True,
    ),
    CommandSpec(
        "focus.goto",
        "Move to a dead-reckoned position (level-1 units from the near stop), once homed;"
        " the last approach is always made from the near side.",
        args=(Arg("position", "float", "target, level-1 units", required=True, minimum=0, maximum=100000),),
        result=(("move_id", "int"), ("position", "float"), ("drives", "int"), ("settle_s", "float")),
        errors=(E.BAD_ARGS, E.NOT_SUPPORTED, E.BUSY, *_CAMERA_ERRORS),
        long=True,
    ),
    CommandSpec(
        "focus.sync",
        "Declare where the motor is now, once homed (a focuser 'sync'): no drive is made, and"
        " dead reckoning goes on from there. For a caller that knows better than the ledger,"
        " e.g. fine autofocus has just found a saved focus.",
        args=(
            Arg(
                "position",
                "float",
                "where the motor is, level-1 units",
                required=True,
                minimum=0,
                maximum=100000,
            ),
        ),
        result=(
            ("position", "float: the position now"),
            ("correction", "float: the new position minus the old dead-reckoned one"),
        ),
        errors=(E.BAD_ARGS, E.BUSY, E.NOT_READY),
    ),
    CommandSpec(
        "zoom.set",
        "Live-view magnification around a centre (fractions of the full view).",
        args=(
            Arg("zoom", "int", "1, 5 or 10", required=True, choices=(1, 5, 10)),
            Arg("center", "point", "[x, y] fractions of the full view; default the centre"),
        ),
        result=(("move_id", "int"), ("zoom", "int"), ("center", "[float, float]")),
        errors=(E.BAD_ARGS, E.NOT_SUPPORTED, E.BUSY, *_CAMERA_ERRORS),
    ),
    CommandSpec(
        "capture",
        "Take a full-resolution shot. With download, the bytes come back in the reply;"
        " otherwise the file is saved on the node and its path returned.",
        args=(
            Arg("download", "bool", "return the bytes in the reply", default=True),
            Arg(
                "at",
                "float",
                "node clock time (as 'clock' returns it) at which to release the shutter;"
                " default now. At most 30 s ahead; a time already past fires at once",
            ),
        ),
        result=(
            ("name", "str: file name as the camera gave it"),
            ("size", "int: bytes"),
            ("sha256", "str: hex digest of the bytes"),
            ("mime", "str"),
            ("data", "bin: the file (when download is true)"),
            ("path", "str: where the node saved it (when download is false)"),
            ("t", "float: node clock when the shutter was released"),
            ("at", "float or null: the scheduled time, when one was given"),
            ("late_s", "float or null: t - at, how late the shutter was released (scheduled only)"),
            ("position", "float or null: dead-reckoned focus position at the shutter"),
        ),
        errors=(E.BAD_ARGS, E.NOT_SUPPORTED, E.BUSY, *_CAMERA_ERRORS),
        long=True,
    ),
    CommandSpec(
        "clock",
        "The node's clock now (the clock of every 't' it sends), for offset estimation"
        " NTP-style: the client notes its own time before and after the call.",
        result=(("t", "float: node clock, s (monotonic; its zero is arbitrary)"),),
    ),
    CommandSpec(
        "config.list",
        "Every configuration widget: name, label, type, value, choices, read-only.",
        result=(("items", "list[map]: name, label, type, value, readonly, choices, range, path"),),
        errors=(E.NOT_SUPPORTED, E.BUSY, *_CAMERA_ERRORS),
    ),
    CommandSpec(
        "config.get",
        "One configuration widget by name.",
        args=(Arg("name", "str", "widget name, e.g. 'iso'", required=True),),
        result=(("item", "map: name, label, type, value, readonly, choices, range, path"),),
        errors=(E.BAD_ARGS, E.NOT_FOUND, E.BUSY, *_CAMERA_ERRORS),
    ),
    CommandSpec(
        "config.set",
        "Set a configuration widget; the value is checked against its type and choices.",
        args=(
            Arg("name", "str", "widget name", required=True),
            Arg("value", "any", "new value (string, number or bool per the widget type)", required=True),
        ),
        result=(("item", "map: the widget as it reads afterwards"),),
        errors=(E.BAD_ARGS, E.NOT_FOUND, E.BUSY, *_CAMERA_ERRORS),
    ),
)

CONTROLLER_COMMAND_LIST: tuple[CommandSpec, ...] = (
    CommandSpec(
        "status",
        "Every camera of the rig and its autofocus state.",
        result=(
            ("cameras", "list[map]: name, online, state, roi, last_result, fps, node, slack, asymmetry"),
        ),
    ),
    CommandSpec(
        "autofocus",
        "Start an autofocus run on one camera; progress and the result come as af.<camera> events.",
        args=(
            Arg("camera", "str", "camera name from the rig", required=True),
            Arg("roi", "roi", "[x, y, w, h] fractions; default the camera's current roi"),
            _STRATEGY,
        ),
        result=(("run_id", "int"), ("camera", "str"), ("strategy", "str"), ("roi", "[x, y, w, h]")),
        errors=(E.BAD_ARGS, E.NOT_FOUND, E.BUSY, E.NOT_READY),
    ),
    CommandSpec(
        "calibrate",
        "Measure a camera's lens direction asymmetry (for rig.toml's asymmetry) by round trips"
        " through focus from where the lens is, which must be at focus (autofocus first); progress"
        " and the result come as af.<camera> events.",
        args=(
            Arg("camera", "str", "camera name from the rig", required=True),
            Arg("roi", "roi", "[x, y, w, h] fractions; default the camera's current roi"),
            Arg(
                "trials",
                "int",
                "round trips through focus, by turns beyond either side",
                default=7,
                minimum=2,
                maximum=50,
            ),
            Arg(
                "distance",
                "float",
                "level-1 steps each round trip goes beyond its scan of focus",
                default=100.0,
                minimum=12.8,
                maximum=800.0,
            ),
        ),
        result=(
            ("run_id", "int"),
            ("camera", "str"),
            ("strategy", "str: calibrate"),
            ("roi", "[x, y, w, h]"),
        ),
        errors=(E.BAD_ARGS, E.NOT_FOUND, E.BUSY, E.NOT_READY),
    ),
    CommandSpec(
        "cancel",
        "Cancel the autofocus running on a camera (the motor is returned to where it started).",
        args=(Arg("camera", "str", "camera name", required=True),),
        result=(("cancelled", "bool: false when nothing was running"),),
        errors=(E.BAD_ARGS, E.NOT_FOUND),
    ),
    CommandSpec(
        "roi.set",
        "Set a camera's region of interest.",
        args=(
            Arg("camera", "str", "camera name", required=True),
            Arg("roi", "roi", "[x, y, w, h] fractions of the live view", required=True),
        ),
        result=(("camera", "str"), ("roi", "[x, y, w, h]")),
        errors=(E.BAD_ARGS, E.NOT_FOUND),
    ),
    CommandSpec(
        "node.call",
        "Forward one command to a camera's node (nudge, home, zoom, capture ...) and return its"
        " result; refused with busy while that camera autofocuses.",
        args=(
            Arg("camera", "str", "camera name", required=True),
            Arg("cmd", "str", "a node command", required=True),
            Arg("args", "map", "its arguments", default={}),
        ),
        result=(("result", "map: the node's result"),),
        errors=(E.BAD_ARGS, E.NOT_FOUND, E.BUSY, E.TIMEOUT, E.CAMERA_ERROR),
    ),
    # ---- rigs (docs/rig.md): presets by serial number, focus-all, synchronised capture, stacks
    CommandSpec(
        "preset.save",
        "Store a named focus position for a camera's body (kept by serial number); default the"
        " position the node counts now, which needs a homed motor.",
        args=(
            Arg("camera", "str", "camera name", required=True),
            Arg("name", "str", "preset name, e.g. 'product-A'", required=True),
            Arg("position", "float", "level-1 units from the near stop; default the current one", minimum=0),
        ),
        result=(("camera", "str"), ("serial", "str"), ("name", "str"), ("position", "float")),
        errors=(E.BAD_ARGS, E.NOT_FOUND, E.NOT_READY, E.TIMEOUT, E.CAMERA_ERROR),
    ),
    CommandSpec(
        "preset.list",
        "The presets of one camera, or of every camera whose node has answered.",
        args=(Arg("camera", "str", "camera name; default every camera"),),
        result=(("presets", "list[map]: camera, serial, name, position, saved"),),
        errors=(E.NOT_FOUND,),
    ),
    CommandSpec(
        "preset.delete",
        "Forget a preset.",
        args=(
            Arg("camera", "str", "camera name", required=True),
            Arg("name", "str", "preset name", required=True),
        ),
        result=(("deleted", "bool: false when there was none of that name"),),
        errors=(E.NOT_FOUND, E.NOT_READY),
    ),
    CommandSpec(
        "preset.goto",
        "Drive to a preset (homing first when the motor is not homed), then run a short fine"
        " autofocus there to absorb the drift of dead reckoning; af.<camera> events report it.",
        args=(
            Arg("camera", "str", "camera name", required=True),
            Arg("name", "str", "preset name", required=True),
            Arg("refine", "bool", "run the short fine autofocus after the move", default=True),
            Arg("home", "bool", "home against the near stop first even when homed", default=False),
            Arg(
                "sync",
                "bool",
                "after a refine that found focus, set the node's position to the preset's (focus.sync)",
                default=True,
            ),
        ),
        result=(
            ("camera", "str"),
            ("serial", "str"),
            ("preset", "str"),
            ("target", "float: the preset's position"),
            ("homed", "bool: whether the motor was homed on the way"),
            ("drift", "float or null: level-1 steps from the preset to where fine autofocus landed"),
            ("refine", "map or null: the fine autofocus result (as in af events)"),
            ("synced", "bool: the node's position was set to target where the refine landed"),
            ("position", "float: the node's position now: target when synced, else target + drift"),
        ),
        errors=(E.BAD_ARGS, E.NOT_FOUND, E.BUSY, E.NOT_READY, E.TIMEOUT, E.CAMERA_ERROR),
    ),
    CommandSpec(
        "rig.focus_all",
        "Autofocus every camera (or those named) on its own region, all at once; answers when"
        " every run has ended. With reference, each camera that focused captures once and keeps"
        " that shot's sharpness as its reference for capture checks.",
        args=(
            Arg("cameras", "list", "camera names; default every camera"),
            _STRATEGY,
            Arg("reference", "bool", "capture a reference shot where focus landed", default=True),
        ),
        result=(
            ("results", "list[map]: camera, serial, ok, position, measure, reason, seconds, reference"),
            ("seconds", "float"),
        ),
        errors=(E.BAD_ARGS, E.NOT_FOUND, E.BUSY, E.NOT_READY),
    ),
    CommandSpec(
        "rig.home",
        "Home every camera (or those named) against the near end stop, all at once: positions"
        " (and presets) count level-1 steps from there.",
        args=(Arg("cameras", "list", "camera names; default every camera"),),
        result=(("results", "list[map]: camera, ok, drives, seconds, reason"), ("seconds", "float")),
        errors=(E.BAD_ARGS, E.NOT_FOUND, E.BUSY, E.NOT_READY),
    ),
    CommandSpec(
        "rig.clock",
        "Estimate each node's clock offset NTP-style: several 'clock' round trips, the one with"
        " the shortest round trip kept.",
        args=(
            Arg("cameras", "list", "camera names; default every camera"),
            Arg("rounds", "int", "round trips per camera", default=8, minimum=1, maximum=100),
        ),
        result=(("cameras", "list[map]: camera, offset_s (node minus controller), rtt_s, error_s"),),
        errors=(E.BAD_ARGS, E.NOT_FOUND, E.TIMEOUT),
    ),
    CommandSpec(
        "rig.capture_all",
        "Fire every camera (or those named) at one instant, scheduled on each node's own clock;"
        " download every file to <out>/shot-NNN/<camera>.<ext> with manifest.json on the"
        " controller's host, score each region's sharpness and flag the soft ones.",
        args=(
            Arg("out", "str", "directory on the controller's host", required=True),
            Arg("cameras", "list", "camera names; default every camera"),
            Arg(
                "lead_s", "float", "how far ahead the instant is chosen", default=1.0, minimum=0.2, maximum=20
            ),
            Arg("rounds", "int", "clock round trips per camera", default=8, minimum=1, maximum=100),
        ),
        result=(
            ("shot", "str: shot-NNN"),
            ("dir", "str: the shot's directory"),
            ("manifest", "str: path of manifest.json"),
            ("spread_s", "float or null: latest minus earliest shutter time, controller clock"),
            ("error_s", "float or null: the largest offset error bound (half a round trip)"),
            (
                "spread_bound_s",
                "float or null: spread_s + 2 error_s, what can be claimed: spread_s alone cannot"
                " see offset errors (a wrong offset moves the schedule and the mapping alike)",
            ),
            ("cameras", "list[map]: the manifest's entries"),
            ("flagged", "list[str]: cameras whose shot is less sharp than their reference"),
            ("failed", "list[str]: cameras that did not deliver a shot"),
        ),
        errors=(E.BAD_ARGS, E.NOT_FOUND, E.BUSY, E.NOT_READY, E.TIMEOUT),
    ),
    CommandSpec(
        "rig.stack",
        "A focus stack on one camera: shots evenly spaced between two presets or positions, shot"
        " from the nearer end to the farther so every move approaches from the near side.",
        args=(
            Arg("camera", "str", "camera name", required=True),
            Arg("from", "any", "a preset name or a position (level-1 units)", required=True),
            Arg("to", "any", "a preset name or a position", required=True),
            Arg("shots", "int", "number of shots", required=True, minimum=2, maximum=500),
            Arg("out", "str", "directory on the controller's host", required=True),
        ),
        result=(
            ("dir", "str: <out>/stack-<camera>-NNN"),
            ("manifest", "str: path of manifest.json"),
            ("positions", "list[float]: the positions, in the order shot"),
            ("frames", "list[map]: index, file, target, position, size, sha256, node_t, sharpness"),
        ),
        errors=(E.BAD_ARGS, E.NOT_FOUND, E.BUSY, E.NOT_READY, E.TIMEOUT, E.CAMERA_ERROR),
    ),
)

NODE_COMMANDS: dict[str, CommandSpec] = {c.name: c for c in NODE_COMMAND_LIST}
CONTROLLER_COMMANDS: dict[str, CommandSpec] = {c.name: c for c in CONTROLLER_COMMAND_LIST}
COMMON_ERRORS = _COMMON_ERRORS
