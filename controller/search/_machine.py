"""What every search shares: frame gating, one move at a time, the position ledger, endings.

A concrete search subclasses :class:`SearchMachine` and implements ``_begin`` and
``_on_sample``.  This base

- accepts a frame only if no move is outstanding, the frame follows the last accepted
  move (``move_id``), the node says the motor has ``settled``, and the frame shows the
  zoom and was measured at the scale (and scored in the tiles) the search asked for;
  tiles asked for only to estimate the noise may be missing.  Everything else is counted
  as ignored;
- averages ``frames_per_sample`` accepted frames into one sample and keeps an estimate of
  the relative frame-to-frame noise, from the frames' tiles too when they carry them
  (:mod:`.noise`);
- while a search scans with the motor moving (:attr:`wants_moving`), also takes each frame
  of the last move that the node places along it (``travel``, not settled), one sample per
  frame, to :meth:`SearchMachine._on_moving`;
- sends queued moves one at a time: the next only after ``moved`` for the previous one;
- keeps the nominal position relative to the start, in level-1 units (the node's
  ``position`` is absent until homed, and is dead reckoning too);
- ends: ``_finish`` restores the starting zoom and reports Done; ``_fail`` restores the
  zoom, drives back to the start, then reports Failed.  ``cancel`` and ``move_failed``
  end the same way.
"""

from __future__ import annotations

import abc
import enum
import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from controller.search._types import Command, Direction, Done, Drive, Failed, Move, Observation, Zoom
from controller.search.noise import relative_noise

LEVEL_SIZES = (1.0, 6.4, 47.0)


MAX_ASYMMETRY = 0.2  # no lens is 20 % asymmetric (design notes: 4 % on an EF-S 17-55)


class Levels(tuple[float, float, float]):
    """The nominal travel of a level-1, 2 and 3 drive, and the lens's direction asymmetry.

    Canon lenses travel further one way than the other (an EF-S 17-55 took 709 level-1
    steps end to end one way and 739 the other).  With ``asymmetry`` a, a far drive travels
    (1 + a/2) times its nominal size and a near drive (1 - a/2); a is negative when near
    travel is the longer.  Indexing gives the nominal sizes; :func:`sizes_toward` the
    sizes one way.  Unknown (0 here) unless a camera's rig entry gives it.
    """

    asymmetry: float

    def __new__(cls, sizes: Sequence[float] = LEVEL_SIZES, asymmetry: float = 0.0) -> Levels:
        if len(sizes) != 3 or min(sizes) <= 0:
            raise ValueError("level_sizes must be three positive sizes (level 1, 2, 3)")
        if not -MAX_ASYMMETRY <= asymmetry <= MAX_ASYMMETRY:
            raise ValueError(
                f"asymmetry must lie in [-{MAX_ASYMMETRY:g}, {MAX_ASYMMETRY:g}], not {asymmetry}"
            )
        out = super().__new__(cls, (float(sizes[0]), float(sizes[1]), float(sizes[2])))
        out.asymmetry = float(asymmetry)
        return out


def sizes_toward(sizes: Sequence[float], direction: Direction) -> Sequence[float]:
    """The travel of each level's drive ``direction``: ``sizes`` itself unless it is a
    :class:`Levels` with an asymmetry."""
    a = getattr(sizes, "asymmetry", 0.0)
    if not a:
        return sizes
    k = 1.0 + a / 2 if direction == "far" else 1.0 - a / 2
    return tuple(v * k for v in sizes)


def plan_drives(
    delta: float,
    sizes: Sequence[float] = LEVEL_SIZES,
    finest: int = 1,
    coarsest: int = 3,
    overshoot: float = 0.5,
) -> list[Drive]:
    """Drives (coarsest first, all one direction) that move ``delta`` nominal units.

    Coarser levels round down (unless the remainder is within ``overshoot`` finest steps of
    a whole coarser step: then they go that far past) so no drive reverses; the ``finest``
    level rounds to nearest.  Levels above ``coarsest`` are not used (a level-3 drive's
    jitter alone is a few steps).
    """
    direction: Direction = "far" if delta > 0 else "near"
    sizes = sizes_toward(sizes, direction)
    rest = abs(delta)
    out: list[Drive] = []
    for level in (3, 2, 1):
        if level > coarsest:
            continue
        if level < finest:
            break
        size = sizes[level - 1]
        # Round up rather than leave a remainder the finer levels would need many parts for.
        slack = overshoot * sizes[finest - 1] if level > finest else 0.0
        n = math.floor(rest / size + 0.5) if level == finest else math.floor((rest + slack) / size + 1e-9)
        if n > 0:
            out.append(Drive(direction, level, n))
            rest -= n * size
    return out


def span(drives: Iterable[Drive], sizes: Sequence[float] = LEVEL_SIZES) -> float:
    """Signed travel of ``drives`` (far positive): nominal, or by :class:`Levels`' asymmetry."""
    return sum(
        (1.0 if d.direction == "far" else -1.0) * d.count * sizes_toward(sizes, d.direction)[d.level - 1]
        for d in drives
    )


class SearchMachine(abc.ABC):
    """Base of the focus searches; see the module docstring.  Not thread-safe."""

    name = "base"
    #: (state, outcome) -> next state; each search's own table (h11 style)
    transitions: ClassVar[Mapping[tuple[Any, str], Any]] = {}
    state: enum.Enum

    def __init__(
        self,
        *,
        level_sizes: Sequence[float] = LEVEL_SIZES,
        frames_per_sample: int = 1,
        stall_timeout_s: float = 15.0,
        asymmetry: float = 0.0,
    ) -> None:
        if frames_per_sample < 1:
            raise ValueError("frames_per_sample must be >= 1")
        self.levels = Levels(level_sizes, asymmetry)
        self.frames_per_sample = frames_per_sample
        self.stall_timeout_s = stall_timeout_s
        self.pos = 0.0  # nominal, relative to the start (a search may correct it)
        self.commanded = 0.0  # the sum of every drive sent, nominal: never corrected
        self.last_dir: Direction | None = None
        self.started = False
        self.finished = False
        self.zoom: int | None = None  # the zoom frames must show
        self.start_zoom: int | None = None
        self._scale = 1
        self._tiles = 0  # n x n tile scores wanted with each frame (0: none)
        self._coarse = 0  # block size of a coarse measure wanted with each frame (0: none)
        self.sample_tiles: tuple[float, ...] = ()  # the last sample's tiles, averaged
        self._acc_tiles: list[tuple[float, ...]] = []
        self._queue: deque[Move] = deque()
        self._terminal: Done | Failed | None = None
        self._pending = False
        self._floor: int | None = None  # frames need move_id >= this
        self._acc: list[float] = []
        self._noise: dict[tuple[int | None, int], list[float]] = {}
        self._cancel: tuple[str, str] | None = None
        self._returning = False
        self._last_progress = 0.0
        self.last_obs: Observation | None = None
        self.t_start = 0.0
        self._moving = False  # frames taken while the motor moves are wanted
        # The last drive sent: where the ledger had the motor before it, its ledger span and
        # its nominal one (the node's ``travel`` is nominal).
        self._move_from = 0.0
        self._move_span = 0.0
        self._move_nominal = 0.0
        # Counters, reported in the metrics of Done and Failed.
        self.drives = 0
        self.motor_moves = 0
        self.zooms = 0
        self.frames_used = 0
        self.frames_ignored = 0
        self.samples: list[tuple[float, float, int]] = []  # (position, measure, zoom)

    # -- the Strategy protocol ---------------------------------------------------------------
    @property
    def wanted_scale(self) -> int:
        return self._scale

    @property
    def wanted_tiles(self) -> int:
        return self._tiles or self._noise_tiles()

    @property
    def wanted_coarse(self) -> int:
        return self._coarse

    @property
    def wants_moving(self) -> bool:
        return self._moving and not self.finished

    def start(self, now: float) -> list[Command]:
        if self.started:
            return []
        self.started = True
        self.t_start = self._last_progress = now
        return self._begin(now)

    def moved(self, move_id: int, now: float) -> list[Command]:
        if not self._pending or self.finished:
            return []
        self._pending = False
        self._floor = move_id
        self._last_progress = now
        if self._cancel is not None and not self._returning:
            return self._fail(*self._cancel)
        if self._queue:
            return self._send_next()
        return []

    def feed(self, obs: Observation, now: float) -> list[Command]:
        if not self.started or self.finished:
            return []
        self.last_obs = obs
        if self.zoom is None:
            self.zoom = self.start_zoom = obs.zoom
        if self._moving and self._accepts_moving(obs):
            assert obs.travel is not None
            self.frames_used += 1
            self._last_progress = now
            self._acc, self._acc_tiles = [], []
            return self._on_moving(obs.travel, obs.measure, obs.tiles, now)
        if not self._accepts(obs):
            self.frames_ignored += 1
            if now - self._last_progress > self.stall_timeout_s and not self._pending:
                return self._fail("stalled", f"no settled frame for {self.stall_timeout_s:g} s")
            return []
        self._acc.append(obs.measure)
        if obs.tiles:
            self._acc_tiles.append(obs.tiles)
        if len(self._acc) < self.frames_per_sample:
            return []
        values, frame_tiles = self._acc, self._acc_tiles
        self._acc, self._acc_tiles = [], []
        if self._tiles:
            n = len(frame_tiles)
            self.sample_tiles = tuple(sum(col) / n for col in zip(*frame_tiles, strict=True))
        else:
            self.sample_tiles = ()
        self.frames_used += len(values)
        self._last_progress = now
        mean = sum(values) / len(values)
        noise = relative_noise(values, frame_tiles)
        if noise is not None:
            self._noise.setdefault((self.zoom, self._scale), []).append(noise)
        self.samples.append((self.pos, mean, obs.zoom))
        return self._on_sample(mean, now)

    def cancel(self, now: float) -> list[Command]:
        if not self.started or self.finished or self._cancel is not None:
            return []
        self._cancel = ("cancelled", "cancelled on request")
        if self._pending:
            return []  # wait for the outstanding move, then return to the start
        return self._fail(*self._cancel)

    def move_failed(self, detail: str, now: float) -> list[Command]:
        if self.finished:
            return []
        self._pending = False
        self._queue.clear()
        if self._returning:  # could not even go back: give up where we are
            self.finished = True
            return [Failed("camera_error", detail, self.metrics(now))]
        return self._fail("camera_error", detail)

    @property
    def phase(self) -> str:
        """The current state's name (for events)."""
        return str(self.state.value)

    @property
    def position(self) -> float:
        """Nominal position relative to the start, level-1 units."""
        return self.pos

    def _to(self, outcome: str) -> None:
        """Take the transition ``(state, outcome)`` of :attr:`transitions` (KeyError if none)."""
        self.state = self.transitions[(self.state, outcome)]

    # -- for subclasses ----------------------------------------------------------------------
    def _begin(self, now: float) -> list[Command]:
        return []

    @abc.abstractmethod
    def _on_sample(self, measure: float, now: float) -> list[Command]:
        """One averaged sample at the current position; the commands that follow."""

    def _on_moving(
        self, travel: float, measure: float, tiles: tuple[float, ...], now: float
    ) -> list[Command]:
        """One frame taken while the last drive moved the motor ``travel`` nominal units
        along it (far positive); only while :attr:`_moving`."""
        return []

    def _travelled(self, travel: float) -> float:
        """The ledger position of a frame ``travel`` nominal units along the last drive."""
        if not self._move_nominal:
            return self._move_from + travel
        return self._move_from + travel * self._move_span / self._move_nominal

    def _noise_tiles(self) -> int:
        """Tiles per side to ask for, when the search wants none, so that a sample of several
        frames estimates its noise from them too (:mod:`.noise`); 0: none."""
        return 0

    @property
    def noise(self) -> float:
        """Median relative frame-to-frame noise in the current view and scale (0 until known)."""
        return self.noise_at(self.zoom, self._scale)

    def noise_at(self, zoom: int | None, scale: int) -> float:
        """Median relative frame-to-frame noise seen at ``zoom`` and decode ``scale`` (0 if none)."""
        seen = self._noise.get((zoom, scale))
        if not seen:
            return 0.0
        s = sorted(seen)
        return s[len(s) // 2]

    @property
    def noise_known(self) -> bool:
        return bool(self._noise.get((self.zoom, self._scale)))

    def _accepts(self, obs: Observation) -> bool:
        return obs.settled and self._of_last_move(obs)

    def _accepts_moving(self, obs: Observation) -> bool:
        """A frame taken while the last move moved the motor, placed along it."""
        return not obs.settled and obs.travel is not None and self._of_last_move(obs)

    def _of_last_move(self, obs: Observation) -> bool:
        if self._pending or self._queue:
            return False
        if self._floor is not None and obs.move_id < self._floor:
            return False
        return (
            obs.zoom == self.zoom
            and obs.scale == self._scale
            and (
                len(obs.tiles) == self._tiles**2
                # tiles asked for only to estimate the noise: a frame without them will do
                or (not self._tiles and len(obs.tiles) == self._noise_tiles() ** 2)
            )
        )

    def _go(self, moves: Sequence[Move], terminal: Done | Failed | None = None) -> list[Command]:
        """Queue ``moves`` (sent one per ``moved``), then ``terminal`` if given."""
        self._acc = []
        self._acc_tiles = []
        self._queue.extend(moves)
        if terminal is not None:
            self._terminal = terminal
        if self._pending:
            return []
        if self._queue:
            return self._send_next()
        if self._terminal is not None:
            self.finished = True
            return [self._terminal]
        return []

    def _send_next(self) -> list[Command]:
        m = self._queue.popleft()
        if isinstance(m, Drive):
            sign = 1.0 if m.direction == "far" else -1.0
            self._move_from = self.pos
            self._move_span = sign * m.count * sizes_toward(self.levels, m.direction)[m.level - 1]
            self._move_nominal = sign * m.count * LEVEL_SIZES[m.level - 1]
            self.pos += self._move_span
            self.commanded += sign * m.count * self.levels[m.level - 1]
            self.last_dir = m.direction
            self.drives += 1
            self.motor_moves += m.count
        else:
            self.zoom = m.level
            self.zooms += 1
        self._pending = True
        out: list[Command] = [m]
        if not self._queue and self._terminal is not None:
            self.finished = True
            out.append(self._terminal)
        return out

    def _drives_to(self, target: float, finest: int = 1) -> list[Drive]:
        return plan_drives(target - self.pos, self.levels, finest)

    def metrics(self, now: float) -> dict[str, float]:
        return {
            "drives": float(self.drives),
            "motor_moves": float(self.motor_moves),
            "zooms": float(self.zooms),
            "frames": float(self.frames_used),
            "frames_ignored": float(self.frames_ignored),
            "samples": float(len(self.samples)),
            "seconds": now - self.t_start,
            "noise": self.noise,
        }

    def _finish(
        self, measure: float, reason: str, now: float, *, moves: Sequence[Drive] = (), **extra: float
    ) -> list[Command]:
        """Send ``moves`` (the last drives, not looked at), restore the zoom, report Done."""
        todo: list[Move] = list(moves)
        if self.start_zoom is not None and self.zoom != self.start_zoom:
            todo.append(Zoom(self.start_zoom))
        ahead = span(moves, self.levels)
        node_pos = self.last_obs.position if self.last_obs is not None else None
        if node_pos is not None:
            node_pos += self.pos + ahead - self.samples[-1][0] if self.samples else ahead
        metrics = {**self.metrics(now), **extra}
        metrics["drives"] += len(moves)
        metrics["motor_moves"] += sum(m.count for m in moves)
        done = Done(self.pos + ahead, measure, reason, node_pos, metrics)
        return self._go(todo, done)

    def _fail(self, reason: str, detail: str, now: float | None = None) -> list[Command]:
        """Restore the zoom, drive back to the start, then report Failed."""
        self._returning = True
        self._queue.clear()
        moves: list[Move] = []
        if self.start_zoom is not None and self.zoom != self.start_zoom:
            moves.append(Zoom(self.start_zoom))
        moves.extend(self._return_drives())
        t = self._last_progress if now is None else now
        return self._go(moves, Failed(reason, detail, self.metrics(t)))

    def _return_drives(self) -> list[Drive]:
        return plan_drives(-self.pos, self.levels)
