"""``default``: bracket coarsely, scan finely under magnification, fit, approach backlash-free.

Stages (transitions (state, outcome) -> state are the table ``TRANSITIONS``).  Where
steps 2-4 speak of the prior ``backlash``, they describe ``cross_slack`` = 0; the default
crosses the slack instead (see ``cross_slack`` below):

1. ``COARSE``: live view at 1x, region decoded at a reduced scale (``coarse_scale``) so
   the focus curve is hundreds of steps wide and its slope shows from anywhere in the
   travel.  Hill-climb in jumps of ``coarse_parts`` level-3 drives (one command each)
   until the peak is bracketed or predicted; no full sweep.  End stops, flat regions and
   peaks beyond the travel are recognised (``flat``, ``no_peak``).  See :mod:`.coarse`.
   Low light (``dim_scale``, 8 by default; 0 turns it off): when the 1x curve cannot be
   trusted (``flat`` with frame noise of at least ``dim_noise``; ``no_peak``; a failed
   fine stage with noisy (``dim_noise``/2) or shallow (max/min < ``dim_shallow``) 1x
   samples), ``DIM`` looks again, once: magnify, decode at ``dim_scale``, drive to the
   near end stop and sweep far in level-3 drives until a peak is passed.  The fine stage
   then also decodes at ``dim_scale``, scans in ``dim_fine_parts`` level-2 steps for at
   least ``dim_fine_samples`` samples of ``dim_frames`` frames each, and lands by a
   reading only if ``dim_reading_frames`` frames can make one good enough, else blind (see
   4).  Unless the magnified frames are quiet (noise under ``dim_noise``/2) and the look
   came from the coarse stage (``dim_quiet_fine``): the 1x curve was lost to a small or
   faint region, not to low light, and the usual fine stage and landing follow.  After
   the fallback the way back on failure is approximate (the start's distance
   from the stop is unknown).
2. ``FINE``: magnified live view (``fine_zoom``, centred on the region), region decoded
   at ``fine_scale`` (fine enough to resolve a few steps, coarse enough that the sensor's
   micro-texture does not outweigh the region's own detail; 1/4 of 5x is about the 1x
   view's detail at 1.25 times its size).  The scan runs the way the motor last moved
   (so no slack enters before the first sample), or the other way if the motor already
   passed the coarse estimate; it starts ``fine_window`` before the estimate, or where
   the motor is if that is inside the window.  Steps of ``fine_parts`` level-2 drives;
   stop once the measure has fallen past the best sample (at least
   ``min_fine_samples``).  If the first sample is the best, the scan turns round: the
   ledger takes the prior ``backlash`` off the reversal, so the samples on both sides
   make one curve.  Fit the curve (Gaussian / Lorentzian / hyperbola, outliers
   rejected, judged by the noise of an averaged sample); a fit without a peak inside the
   scan, or that misses the samples by far more than the noise, fails ``poor_fit``.
   A scan still rising at the end of its window (by ``resume_rise`` over its lowest
   sample) means the coarse top was false, e.g. a sidelobe of the disk passing over a
   periodic pattern far out of focus: back to ``COARSE`` at 1x, once, climbing on the way
   the scan rose (``resumed`` = 1 in the metrics).  So does a fitted peak that the 1x
   samples deny (``check_coarse``): a scan at the noise floor can fit a small bump.  They
   deny it when the 1x curve rises away from it on one side, or (``check_across``, before
   a resumed climb only) when the nearest sample on one side is significantly lower than
   one farther out on the other: blur grows alike on both sides of focus.  (The curve of a
   region that spans depth need not be symmetric, so that alone never fails a search.)
3. ``APPROACH``: one drive to ``guard`` short of the fitted centre, on the near flank.
   After a far scan it is a near drive past the peak, lengthened by the prior
   ``backlash``; after a near scan it is a far drive, lengthened the same way.  The
   frame there is a position reading: its measure says, through the fitted curve, how
   far the centre still is (corrected by how the fit misreads the scan's own samples on
   that flank).  This closes the loop on the image rather than on dead reckoning.
4. The last drive is far by the reading: after a near scan it continues the way the
   motor last moved (no slack at all); after a far scan it reverses and adds the prior
   ``backlash``.  In that case, if the reading was far from the plan (more than
   ``slack_margin``: the slack is not what was assumed), ``CHECK`` scores the landing
   frame and creeps far by its reading, at most ``max_creeps`` times and only while the
   measure still rises (past the top the reading cannot tell the flanks apart).
   Otherwise the search reports Done as the last drive goes out, with the measure the
   fit expects there (``checked`` = 0 in the metrics): no frame after it is scored.
   A reading's error is the sample noise over the fitted log-slope at the guard point.
   Above ``max_reading_error`` steps, each reading averages as many frames as bring it to
   ``reading_aim`` (``reading_frames`` in the metrics), if that is at most
   ``reading_frames`` (``dim_reading_frames`` after the dim look).  When even that would
   be noise, the search lands blind instead: by the ledger onto the fitted centre, the
   last drive far, with the prior backlash added on each reversal (``blind`` = 1 in the
   metrics), in drives no coarser than ``blind_level`` (2: a level-3 drive's jitter,
   2.4 steps, would land uncorrected).

``cross_slack`` (12.8 by default since session 9; 0 restores the prior-only search of
session 8 and before): the lens's slack may be anything up to it, not ``backlash``, so no
step that decides where the motor ends may lean on the prior.

- The approach reaches the reading point on a far drive of at least ``cross_slack`` (after
  a far scan: near past the guard point by that much and back far by the same, so the two
  reversals' slack cancels; that near leg is whole level-3 drives where they go past by at
  most ``approach_overshoot`` level-2 steps); the last drive continues far with none; a
  reading more than ``reread_beyond`` farther down the flank than planned is taken again
  closer (:func:`.landing.approach_legs`).
- The fine scan does not turn round (its samples on either side of a reversal would be
  apart by the unknown slack): it goes back two scan steps before where it began, in
  level-2 drives only, and runs its way again, filling the gap to the samples it has
  (:meth:`Default._turn`).
- A blind landing ends moving the way the samples were taken, any reversal in a pair of
  one commanded length (:func:`.landing.blind_drives`).  After a near scan that last
  drive is near: the one landing that does not end far, since none can after near-moving
  samples without the prior.

The prior ``backlash`` still shapes the first plan (how far short of the guard point the
far leg after a near scan lands) and is what ``cross_slack`` = 0 relies on; rig.toml's
``backlash`` sets it per camera.

``asymmetry`` (0 unless rig.toml's ``asymmetry`` gives it): how much further the lens's far
drives travel than its near ones.  The ledger then counts each way by its own travel
(:class:`._machine.Levels`), so a landing after a near scan (samples in near steps, last
drives far) does not land that fraction of its last drives' length off.  No run can
measure it cheaply: 4 % is half a step over the 13-19 steps between two readings.

``DEPTH``, for a region the magnified view shows less than ``depth_cover`` of: the coarse
samples are also scored in tiles; after the magnified fit, unless those tiles put the whole
region at that depth, a 1x scan scores the region in
tiles (:mod:`.depth`) and finds the median depth of its detail.  The magnified fine stage
then runs once more, a fresh scan (``looked_again`` = 1): on the same view if the median
lies within ``depth_agree`` steps (or the 1x noise's share) of the first fit, else on a
part of the region at the median depth (``refocused`` = 1), measuring only the tiles
there.

Regions that span depth are reported (``spans_depth``): for a region the magnified view
covers, the fine scan's frames are also scored in ``fine_tiles`` x ``fine_tiles`` tiles, and
where those tiles peak along the scan (:mod:`.depth`) says whether the region's parts come
into focus together.  It changes nothing in the search; ``Done.metrics`` carries
``fine_spread``, ``fine_beyond``, ``fine_tiles`` and ``spans_depth``.

A refocus (``recall_peak`` > 0, for a camera focused on this region before): the search
skips the coarse bracket, magnifies at once and scans far from ``recall_window`` below
where the motor is, so that focus, moved a little either way, most likely lies ahead.
Its fit keeps the best sample and ``recall_keep`` before it: a refocus's peak may lie
anywhere in the window, with many samples up one flank, and far down a flank the curve's
shape is the models' weakest part.  The fit it lands by must peak within a factor
``recall_band`` of ``recall_peak``, the peak the earlier run's fit had (``memory_peak`` in
that run's metrics).  Far from focus a magnified scan can fit a bump of texture or noise,
and with no 1x samples nothing else would deny it; a bump's measure is far below the
in-focus one.  Any fine failure, or a peak outside the band, falls back to the whole
search from where the motor is (``recall`` in the metrics: 1 landed by the refocus, -1
fell back, 0 none asked).  A refocus of a landing by the dim look's own fine stage
(``recall_dim``) takes no 1x check, scans and fits as that stage does (``dim_scale``, its
steps and frames, every sample fitted) and lands as it does; falling back, it drops those
settings, so the whole search can take its own dim look.  A region wider than the
magnified view is remembered when it landed on its own view (not on a part the depth stage
chose); its refocus scans that view and takes no depth stage.

On the move (session 22; ``glide`` and ``moving_fine``, on by default): when the node
places its frames along each move (the header's ``travel``; an older node's frames carry
none, and the search stops for every sample as above), and the last 1x sample's frames
were quiet (under ``moving_coarse_noise``, their median under twice that):

- once the climb knows which way the measure rises, it *glides*: level-3 drives sent back
  to back, so the motor never stops, every frame a sample (:mod:`.glide`), until the
  measure has fallen past a top on ``glide_confirm`` frames in a row (``glide`` = 1 in
  the metrics), or stopped changing (an end stop: the step-by-step climb takes over from
  where the frames stopped changing, ``glide`` = -1).  Its frames alternate between the
  coarse scale and ``glide_scale`` (1/2, session 23), a curve several times narrower near
  the top: two finer frames past their best (or one twice as far down) bracket it sooner,
  where the coarse frames have levelled off and the finer ones rise or fall
  ``sharp_contrast`` or more; and no next drive goes out once the last finer frame is
  below an earlier one, so the motor stops near the top;
- the fine stage's first scan is one level-3 command through the coarse centre, every
  frame a sample, ending ``moving_past`` beyond it (:mod:`.moving` plans what goes before
  it; ``moving`` = 1).  Frames within ``moving_edge`` of where the node's model starts or
  stops the motor are not scored; the fit takes the moving frames alone, after moving them
  back by the shift the settled end measures (a body's frames may lag otherwise than the
  model: ``lag_shift``, at most ``moving_shift``).  Its frames are single and placed by a
  level-3 drive's timing, which its jitter (5 %) stretches: so the magnified noise must
  be under ``moving_noise`` and the fit no narrower than ``moving_min_width`` to 80 % of
  its top (else the usual scan runs around its best frame), no landing
  from it is blind, the reading point is at most ``moving_guard`` short of the centre
  (``moving_shift_guard`` more with no shift measured), a reading more than
  ``moving_reread`` farther down the flank is taken again closer, one within
  ``reread_within`` of the top (or above it) is taken again after backing off, and a way
  to the reading point longer than a level-3 drive and the slack aims ``moving_margin``
  (at most a fit width) farther down the flank and comes closer by the reading;
- ``glide_zoom`` (session 24; the default since session 25): the glide magnifies as
  it sets off, every frame decoded at ``fine_scale`` and measured twice: as it is (the
  finer frames) and shrunk ``glide_zoom_coarse`` times by block means (the coarse ones,
  a curve as wide as the 1x one's, for the level guard).  Its finer frames past the top
  are the moving scan's, and the settled frames where its drives end are the end sample
  (the lag shift is measured from the frames nearest that end): no zoom after the top,
  no scan back through it.  Unless the frames before the top rose less than
  ``glide_rise`` (a top the zoom's settling hid most of the way to): then the moving
  scan runs through it again; and finer frames that halve without rising say that the
  top went by while the zoom settled (where the coarse frames have levelled off): the
  moving scan goes back for it.  A top with frames more than ``glide_gap`` apart within
  ``glide_gap_reach`` of the best (frames lost while a drive was sent) is scanned again
  too.  The frames carry the fine tiles, for the depth report.  A glide that stalls
  magnified zooms back to 1x for the step-by-step climb.  A far leg to the
  reading point after a near moving scan that one level-3 drive would end within
  ``one_level3`` (nearer the top, farther down the flank) of the guard point is that
  drive alone.  ``leg_scale`` (the default since session 25): after a magnified near
  glide, the far leg to the reading point goes in level-2 drives, and its frames say how
  many of the fitted curve's steps a far step goes (:func:`_leg_scale`); the reading is
  divided by that.  After a moving scan a reading takes 2 frames where frames carry tiles
  (3 where they do not), and once they tell the noise it averages more at the same spot
  until its error is within ``reading_topup_aim`` steps (at most ``reading_frames``); if
  they say the noise is over ``moving_noise``, the usual scan runs around the best frame.
  The peak remembered for a refocus, and the one a refocus compares with it, is that of
  the best fit no narrower than ``fit_min_width`` of the samples' median spacing.

Each sample averages 1-3 frames: three until the frame-to-frame noise of the current
view and scale is known (two after a moving scan, where frames carry tiles), then as that
noise requires.  Every significance test (a rise,
a fall, a peak) is relative to that noise.  The frames of a sample are scored in tiles
(the search's own, or up to ``noise_tiles`` x ``noise_tiles`` when it wants none), and the
noise is the larger of the measures' own spread and the one their tiles show
(:mod:`.noise`): three frames alone put it below a third of the truth one time in ten.
Any failure restores the zoom, drives back to the start and reports the reason.
"""

from __future__ import annotations

import enum
import functools
import itertools
import math
from collections.abc import Sequence

from controller.search import depth, fits, landing, moving
from controller.search._machine import LEVEL_SIZES, SearchMachine, plan_drives
from controller.search._types import Command, Direction, Drive, Move, Zoom, view_window
from controller.search.coarse import CoarseClimb, sign
from controller.search.glide import Glide


class S(enum.Enum):
    COARSE = "coarse"
    DIM = "dim"
    DEPTH = "depth"
    FINE = "fine"
    APPROACH = "approach"
    CHECK = "check"
    DONE = "done"
    FAILED = "failed"


TRANSITIONS: dict[tuple[S, str], S] = {
    (S.COARSE, "climb"): S.COARSE,
    (S.COARSE, "end_stop"): S.COARSE,
    (S.COARSE, "bracketed"): S.FINE,
    (S.COARSE, "predicted"): S.FINE,
    (S.COARSE, "recall"): S.FINE,
    (S.FINE, "unrecall"): S.COARSE,
    (S.COARSE, "flat"): S.FAILED,
    (S.FINE, "depth"): S.DEPTH,
    (S.DEPTH, "again"): S.FINE,
    (S.DEPTH, "scan"): S.DEPTH,
    (S.DEPTH, "extend"): S.DEPTH,
    (S.DEPTH, "back"): S.DEPTH,
    (S.COARSE, "dim"): S.DIM,
    (S.FINE, "dim"): S.DIM,
    (S.DIM, "sweep"): S.DIM,
    (S.DIM, "bracketed"): S.FINE,
    (S.DIM, "flat"): S.FAILED,
    (S.DIM, "no_peak"): S.FAILED,
    (S.COARSE, "no_peak"): S.FAILED,
    (S.FINE, "scan"): S.FINE,
    (S.FINE, "shift"): S.FINE,
    (S.FINE, "fitted"): S.APPROACH,
    (S.FINE, "blind"): S.DONE,
    (S.FINE, "poor_fit"): S.FAILED,
    (S.FINE, "no_peak"): S.FAILED,
    (S.FINE, "resume"): S.COARSE,
    (S.APPROACH, "read"): S.CHECK,
    (S.APPROACH, "closer"): S.APPROACH,
    (S.APPROACH, "noisy"): S.FINE,
    (S.CHECK, "landed"): S.DONE,
}


class Default(SearchMachine):
    """The project's best search.  ``zoom_levels``: what the camera offers ((1,): no zoom)."""

    name = "default"
    transitions = TRANSITIONS

    def __init__(
        self,
        *,
        zoom_levels: Sequence[int] = (1,),
        roi_center: tuple[float, float] = (0.5, 0.5),
        fine_zoom: int | None = None,
        travel: float = 800.0,
        level_sizes: Sequence[float] = LEVEL_SIZES,
        coarse_scale: int = 8,
        coarse_parts: int = 2,
        coarse_first_parts: int = 1,
        coarse_first_noise: float = 0.012,
        fine_scale: int | None = None,
        fine_parts: int = 2,
        fine_window: float = 19.2,
        min_fine_samples: int = 4,
        cross_slack: float = 12.8,
        reread_beyond: float = 6.4,
        backlash: float = 4.0,
        significance: float = 0.04,
        top_rise: float = 1.25,
        predict: bool = True,
        predict_wide: bool = False,
        approach_overshoot: float = 1.0,
        drift: float = 0.05,
        fine_significance: float = 0.02,
        same_tolerance: float = 0.005,
        flat_ratio: float = 1.10,
        poor_fit_rms: float = 0.15,
        min_contrast: float = 0.03,
        guard_widths: float = 0.5,
        accept: float = 2.0,
        slack_margin: float = 3.0,
        max_shifts: int = 2,
        dim_scale: int = 8,
        dim_noise: float = 0.01,
        dim_fine_samples: int = 8,
        dim_fine_parts: int = 1,
        dim_frames: int = 6,
        dim_shallow: float = 1.25,
        max_creeps: int = 2,
        max_reading_error: float = 1.0,
        reading_frames: int = 24,
        reading_aim: float = 0.5,
        dim_reading_frames: int = 60,
        blind_level: int = 2,
        asymmetry: float = 0.0,
        resume_rise: float = 1.5,
        check_coarse: bool = True,
        check_across: bool = True,
        dim_at_stop: bool = True,
        dim_quiet_fine: bool = True,
        roi_size: tuple[float, float] | None = None,
        depth_tiles: int = 16,
        depth_cover: float = 0.5,
        depth_scale: int = 1,
        depth_window: float = 38.4,
        max_depth_extends: int = 4,
        depth_spread: float = 20.0,
        depth_agree: float = 15.0,
        depth_near: float = 6.0,
        depth_agree_noise: float = 600.0,
        fine_tiles: int = 4,
        fine_tile_rise: float = 1.1,
        fine_edge_reach: float = 1.0,
        spans_steps: float = 15.0,
        spans_beyond: float = 0.15,
        spans_noise: float = 0.005,
        noise_tiles: int = 4,
        recall_peak: float = 0.0,
        recall_band: float = 1.25,
        recall_window: float = 38.4,
        recall_keep: int = 2,
        recall_coarse: float = 0.0,
        recall_coarse_ratio: float = 0.75,
        recall_dim: bool = False,
        moving_fine: bool = True,
        moving_lead: float = 76.8,
        moving_before: float = 25.6,
        moving_past: float = 28.0,
        moving_keep: float = 32.0,
        moving_noise: float = 0.008,
        reading_topup_aim: float = 0.8,
        glide_gap: float = 15.0,
        glide_gap_reach: float = 20.0,
        fit_min_width: float = 0.25,
        moving_adjust: int = 3,
        moving_guard: float = 12.8,
        reread_within: float = 3.2,
        moving_margin: float = 12.8,
        moving_reread: float = 3.2,
        moving_edge: float = 9.4,
        moving_shift: float = 10.0,
        moving_shift_guard: float = 3.2,
        moving_coarse_noise: float = 0.01,
        glide: bool = True,
        glide_ahead: float = 30.0,
        glide_confirm: int = 2,
        moving_min_width: float = 7.0,
        glide_scale: int | None = 2,
        glide_zoom: bool = True,
        glide_zoom_coarse: int = 8,
        glide_rise: float = 0.3,
        leg_scale: bool = True,
        one_level3: tuple[float, float] = (2.0, 12.0),
    ) -> None:
        super().__init__(level_sizes=level_sizes, frames_per_sample=3, asymmetry=asymmetry)
        zooms = sorted(z for z in zoom_levels if z > 1)
        if fine_zoom is None:
            fine_zoom = 5 if 5 in zooms else (zooms[-1] if zooms else 1)
        elif fine_zoom != 1 and fine_zoom not in zooms:
            raise ValueError(f"fine_zoom {fine_zoom} is not offered by the camera ({list(zoom_levels)})")
        # A region the magnified view would show less than ``depth_cover`` of is focused on
        # the median depth of its detail, at 1x (DEPTH): the magnified fine stage would see
        # only its centre.
        self.depth_mode = bool(depth_tiles) and _cover(roi_size, fine_zoom) < depth_cover
        self.depth_scale = depth_scale
        self.depth_spread = depth_spread
        self.fine_zoom = fine_zoom
        self.roi_center = roi_center
        self._roi_center0 = roi_center  # the region's own centre (a refocus moves roi_center)
        self.coarse_scale = coarse_scale
        # 1/4 of a 5x view sees about the 1x view's detail, 1.25 times larger; without
        # magnification, decode at full scale.
        self.fine_scale = fine_scale if fine_scale is not None else (4 if fine_zoom >= 5 else 1)
        self.fine_parts = fine_parts
        self.fine_window = fine_window
        self.min_fine_samples = min_fine_samples
        self.cross_slack = cross_slack
        self.approach_overshoot = approach_overshoot
        self.reread_beyond = reread_beyond
        self._reread = False
        self.drift = drift
        self.fine_significance = fine_significance
        self.poor_fit_rms = poor_fit_rms
        self.min_contrast = min_contrast
        self.guard_widths = guard_widths
        self.accept = accept
        self.slack_margin = slack_margin
        self.reading = 0.0
        self._guard = 0.0
        self._slack_sign = 0.0
        self._slack: float | None = None  # the lens's slack as one reading measured it
        self.backlash = backlash
        self._last_measure = 0.0
        self._check = False
        self._final_reverses = True
        self._checked = False
        self.scan_dir: Direction = "far"
        self.max_shifts = max_shifts
        self.dim_scale = dim_scale
        self.dim_noise = dim_noise
        self.dim_fine_samples = dim_fine_samples
        self.dim_fine_parts = dim_fine_parts
        self.dim_frames = dim_frames
        self.dim_shallow = dim_shallow
        self.max_creeps = max_creeps
        self._creeps = 0
        self.travel = travel
        self._dim: list[tuple[float, float]] = []
        self._dim_from = 0.0
        self._dim_mode = False
        self._dim_blind = False  # the fine stage after the dim look: blind but for dim_reading_frames
        self._dim_after_coarse = False
        self.dim_quiet_fine = dim_quiet_fine
        self._usual_fine = (self.fine_scale, self.min_fine_samples, self.fine_parts)
        self._dim_prior: tuple[str, str] | None = None  # the 1x verdict the dim look re-examines
        self.max_reading_error = max_reading_error
        self.reading_frames = reading_frames
        self.reading_aim = reading_aim
        self.dim_reading_frames = dim_reading_frames
        if blind_level not in (1, 2, 3):
            raise ValueError(f"blind_level must be 1, 2 or 3, not {blind_level}")
        self.blind_level = blind_level
        self._read_frames = 0  # frames a landing's readings average (0: as the samples do)
        self.state = S.COARSE
        self._scale = coarse_scale
        self._new_climb = functools.partial(
            CoarseClimb,
            step=coarse_parts * self.levels[2],
            small_step=self.levels[2],
            travel=travel,
            significance=significance,
            top_rise=top_rise,
            same_tolerance=same_tolerance,
            flat_ratio=flat_ratio,
            # A region at several depths has a curve that flattens between its depths'
            # peaks, which looks like an approaching top: there, only a bracket will do
            # (unless ``predict_wide``).
            predict=predict and (predict_wide or not self.depth_mode),
            first_step=coarse_first_parts * self.levels[2],
            first_noise=coarse_first_noise,
        )
        self.climb = self._new_climb()
        self.resume_rise = resume_rise
        self.check_coarse = check_coarse
        self.check_across = check_across
        self.dim_at_stop = dim_at_stop  # a coarse no_peak looks magnified whatever the noise
        self._resumed = False
        self._fine: list[tuple[float, float]] = []
        self._scan_end = 0.0
        self._shifts = 0
        self.coarse_center: float | None = None
        self.fit: fits.Fit | None = None
        self._t_coarse = 0.0
        self._t_fine = 0.0
        self.depth_window = depth_window
        self.max_depth_extends = max_depth_extends
        self.depth_estimate: depth.DepthEstimate | None = None
        self.coarse_depth: depth.DepthEstimate | None = None
        self._depth_check = False
        self._refocused = False
        self._looked_again = False
        self._depth_offset = math.nan
        self._fine_select: list[int] = []
        self.depth_agree = depth_agree
        self.depth_near = depth_near
        self.depth_agree_noise = depth_agree_noise
        self.roi_size = roi_size
        # Tiles per side for the fine stage's report (none without the region's size).
        self.fine_tiles = (
            _grid(roi_size, self.fine_scale, fine_tiles, fine_zoom) if roi_size and fine_tiles else 0
        )
        self.fine_tile_rise = fine_tile_rise
        self.fine_edge_reach = fine_edge_reach  # tiles best at a scan end may peak just past it
        self.spans_steps = spans_steps
        self.spans_beyond = spans_beyond
        self.spans_noise = spans_noise
        if noise_tiles < 0:
            raise ValueError("noise_tiles must be >= 0")
        self.noise_tiles = noise_tiles
        if recall_peak < 0 or recall_band < 1 or recall_window <= 0 or recall_keep < 1:
            raise ValueError(
                "recall_peak must be >= 0, recall_band >= 1, recall_window > 0 and recall_keep >= 1"
            )
        self.recall_band = recall_band
        self.recall_window = recall_window
        self.recall_keep = recall_keep
        self.recall_coarse = recall_coarse
        self.recall_coarse_ratio = recall_coarse_ratio
        self.recall_dim = bool(recall_dim)
        self.moving_fine = bool(moving_fine)
        self.moving_lead = moving_lead
        self.moving_before = moving_before
        self.moving_past = moving_past
        self.moving_keep = moving_keep
        self.moving_noise = moving_noise
        self.reading_topup_aim = reading_topup_aim
        self.glide_gap = glide_gap
        self.glide_gap_reach = glide_gap_reach
        self.fit_min_width = fit_min_width
        self._tiles_seen = False  # a sample's frames carried tiles: its noise from them too
        self._glide_tiles: list[tuple[float, tuple[float, ...]]] = []  # a magnified glide's
        self._peak_kept = 0.0  # the fine fit's peak as a refocus compares it (_kept_peak)
        self._read_sum, self._read_n, self._read_more = 0.0, 0, 0  # a reading being topped up
        self._read_averaged = 0  # frames in the last reading (after a moving scan: topped up)
        self.moving_adjust = moving_adjust
        self.moving_guard = moving_guard
        self.reread_within = reread_within
        self.moving_margin = moving_margin
        self.moving_reread = moving_reread
        self.moving_edge = moving_edge
        self.moving_shift = moving_shift
        self.moving_shift_guard = moving_shift_guard
        self._lag_shift = math.nan  # how far the moving scan's frames were moved back (nan: not)
        self.moving_coarse_noise = moving_coarse_noise
        self.glide = bool(glide)
        self.glide_ahead = glide_ahead
        self.glide_confirm = glide_confirm
        self.moving_min_width = moving_min_width
        self.glide_scale = coarse_scale if glide_scale is None else glide_scale
        self._glide: Glide | None = None  # the coarse climb on the move, while it runs
        self._glided = False
        self._glide_outcome = 0.0  # 1: the glide found the top; -1: it ended without one
        self._glide_dir: Direction = "far"
        self._glide_from = 0.0
        self._glide_reversed = False
        self.glide_zoom = glide_zoom
        self.glide_zoom_coarse = glide_zoom_coarse
        self.glide_rise = glide_rise
        self.leg_scale = leg_scale
        self._leg: list[tuple[float, float]] | None = None  # frames of the far leg, to scale by
        self._leg_from = 0.0
        self._leg_k = 1.0
        self.one_level3 = (float(one_level3[0]), float(one_level3[1]))
        self._glide_zoomed = False  # the glide magnified as it set off
        self._glide_fine_on = False  # its frames past the top are the moving scan's
        self._glide_all: list[tuple[float, float]] = []
        self._await_zoom: list[Move] = []  # the moving scan's drive, once the zoom shows
        self._mscan = False  # a fine scan while the motor moves is under way
        self._mscan_used = False
        self._mscan_reversed = False
        self._single = False  # the fine samples are single frames (a moving scan's)
        # A refocus magnifies at once: only where the fine stage is the magnified one.
        self._recall = recall_peak if recall_peak and fine_zoom > 1 else 0.0
        self._recalled = 0.0  # 1: landed by the recall; -1: fell back to the whole search
        if self._recall:
            self.frames_per_sample = 1  # the first frame only tells the view: no 1x sample
        self._fine_tiles: list[tuple[float, tuple[float, ...]]] = []
        self.fine_depth: depth.DepthEstimate | None = None
        self._depth_n = 0
        self._coarse_n = 0
        self._coarse_tiles: list[tuple[float, tuple[float, ...]]] = []
        self._depth: list[tuple[float, tuple[float, ...], float]] = []
        self._depth_extends = 0
        self._depth_back = False
        if self.depth_mode:
            assert roi_size is not None
            self._depth_n = _grid(roi_size, depth_scale, depth_tiles)
            self._coarse_n = _grid(roi_size, coarse_scale, 8)
            self._tiles = self._coarse_n  # the coarse samples say where the region's parts lie

    # -- small helpers ---------------------------------------------------------------------

    def _noise_tiles(self) -> int:
        """A sample of several frames also estimates its noise from up to ``noise_tiles``
        tiles per side, each 4 pixels or more at the decode scale (none for a region smaller
        than 2 x 2 such tiles): see :mod:`.noise`."""
        if self.frames_per_sample < 2 or not self.noise_tiles:
            return 0
        px = _region_px(self.roi_size or (1.0, 1.0), self._scale, self.zoom or 1)
        n = min(self.noise_tiles, int(px // 4))
        return n if n >= 2 else 0

    @property
    def fine_step(self) -> float:
        """One fine-scan step: ``fine_parts`` level-2 drives."""
        return self.fine_parts * self.levels[1]

    def _adapt_frames(self) -> None:
        """Three frames until the noise of this view and scale is known, then 1-3 by noise."""
        n = self.noise
        if not self.noise_known:
            # After a moving scan's single frames, two where frames carry tiles (many
            # degrees of freedom; two frames alone have one): its end sample judges the
            # scan's noise, and a reading is topped up once the noise is known
            # (:meth:`_reading_topped`).
            self.frames_per_sample = 2 if self._single and self._tiles_seen else 3
        else:
            self.frames_per_sample = 1 if n < 0.01 else 2 if n < 0.03 else 3
            if self._dim_mode and n >= self.dim_noise / 2:
                self.frames_per_sample = self.dim_frames  # a shallow, noisy curve: average harder
        if self._read_frames and self.state in (S.APPROACH, S.CHECK):
            self.frames_per_sample = self._read_frames
        if self._read_more:
            self.frames_per_sample = self._read_more
        if self._glide is not None:
            self.frames_per_sample = 1  # where the glide's drives ran out: frames of it

    def _on_sample(self, measure: float, now: float) -> list[Command]:
        self._tiles_seen = self._tiles_seen or bool(self.last_obs is not None and self.last_obs.tiles)
        if self._fine_select and self.state is not S.DEPTH and self.sample_tiles:
            measure = sum(self.sample_tiles[i] for i in self._fine_select)  # the parts at the depth
        if self.state is S.COARSE:
            out = self._on_coarse(measure, now)
        elif self.state is S.DIM:
            out = self._on_dim(measure, now)
        elif self.state is S.FINE:
            out = self._on_fine(measure, now)
        elif self.state is S.DEPTH:
            out = self._on_depth(measure, now)
        elif self.state in (S.APPROACH, S.CHECK):
            out = self._on_landing(measure, now)
        else:
            out = []
        self._adapt_frames()
        return out

    # -- 1: coarse bracket (decisions from :mod:`.coarse`) ------------------------------------
    def _on_coarse(self, measure: float, now: float) -> list[Command]:
        if self._recall and not self._recalled:
            if self._far_from_recalled(measure):
                self._recalled = -1.0  # the whole search, from a sample of its own frames
                return []
            return self._recall_scan(now)  # the first frame gave the view: magnify here
        if self._glide is not None:
            if self._glide.sharp or self._glide_zoomed:
                return self._on_glide_stopped(measure, now)
            self._glide_over()  # the motor stopped with no top seen: step by step from here
            if self._glide_zoomed:
                return self._unzoom_glide()
        if self.depth_mode and self.sample_tiles:
            self._coarse_tiles.append((self.pos, self.sample_tiles))
        d = self.climb.add(self.pos, measure, self.noise)
        if d.outcome in ("bracketed", "predicted") and self.depth_mode:
            # Parts of the region at other depths than its centre: once the magnified fine
            # stage has found the centre's, look at the whole region at 1x (DEPTH).
            self._depth_check = True
            self.coarse_depth = self._coarse_estimate()
            self._tiles = 0
        if d.outcome in ("bracketed", "predicted"):
            self._to(d.outcome)
            self._t_coarse = now - self.t_start
            return self._fine_from(d.center)
        if d.outcome == "flat":
            # Unchanged both ways: more likely a featureless region than two end stops, so
            # the way back is every drive sent, undone.
            self.pos = self.commanded
            if self._dim_possible() and self.noise >= self.dim_noise:
                return self._dim_start(trust_stops=False)
            self._to("flat")
            return self._fail("flat", d.detail, now)
        if d.outcome == "no_peak":
            if d.stop_at is not None:
                self.pos = d.stop_at  # at the stop the probe met, not past it
            # Highest at an end stop at 1x: noise can look like a peak beyond it, and so can
            # a small, faint region whose few coarse pixels are swamped by bright
            # surroundings bleeding in far out of focus (`moto door`, 12 x 8 pixels at
            # 1/8).  Either way the magnified look can tell, once.
            if self._dim_available() if self.dim_at_stop else self._dim_possible():
                self._dim_prior = ("no_peak", d.detail)
                return self._dim_start()
            self._to("no_peak")
            return self._fail("no_peak", d.detail, now)
        if d.stop_at is not None:
            self.pos = d.stop_at  # the probes did not move it: keep the ledger honest
        self._to("climb")
        if d.outcome == "climb" and self._glide_possible():
            return self._glide_start("far" if d.target > self.pos else "near")
        drives = plan_drives(d.target - self.pos, self.levels, 3)
        self.climb.moved = drives[0].direction if drives else None
        return self._go(drives)

    # -- 1b: dim light: the 1x curve is lost in the noise, look again magnified -------------
    def _dim_start(self, *, trust_stops: bool = True) -> list[Command]:
        """Magnify around the region, decode at ``dim_scale``, drive to the near end stop
        (one command) and sweep far in level-3 drives until a peak has been passed.  The
        magnified region holds several times the pixels of the 1x one, so its curve stands
        out of the noise where the 1x curve did not.

        The drive to the stop is the whole travel, unless the climb met the near stop
        (and ``trust_stops``): then the ledger's distance to it, 15 % and one part more."""
        # A look from the coarse stage may hand a quiet curve to the usual fine stage; one
        # after that fine stage failed may not.
        self._dim_after_coarse = self.state is S.COARSE
        self._to("dim")
        self._dim_fine(True)
        self._dim = []
        self._shifts = 0  # a fresh fine stage follows: its own budget of shifts and turns
        self._scale = self.dim_scale
        # The whole region again: a refocused second look's part of it and its tiles were
        # chosen by a 1x depth scan that low light had spoilt.
        self.roi_center = self._roi_center0
        self._fine_select = []
        parts = math.ceil(self.travel / self.levels[2]) + 1
        near = self.climb.stop_at.get("near") if trust_stops else None
        if near is not None:
            parts = min(parts, math.ceil(1.15 * max(0.0, self.pos - near) / self.levels[2]) + 1)
        self._dim_from = self.pos - parts * self.levels[2]  # the ledger at the end stop
        return self._go([Zoom(self.fine_zoom, self.roi_center), Drive("near", 3, parts)])

    def _dim_fine(self, on: bool) -> None:
        """The dim look's fine stage (``on``) or the usual one: 1/4 of 5x is too noisy in low
        light, and a broad curve needs finer steps and more samples; its landing is blind but
        for ``dim_reading_frames``."""
        self._dim_mode = self._dim_blind = on
        self.fine_scale, self.min_fine_samples, self.fine_parts = (
            (self.dim_scale, self.dim_fine_samples, self.dim_fine_parts) if on else self._usual_fine
        )

    def _on_dim(self, measure: float, now: float) -> list[Command]:
        self._dim.append((self.pos, measure))
        pts = self._dim
        i_best = max(range(len(pts)), key=lambda i: pts[i][1])
        best = pts[i_best][1]
        thr = max(self.climb.significance, 4.0 * self.noise)  # a significant difference
        cut = best * (1.0 - thr)
        if 0 < i_best < len(pts) - 1 and pts[-1][1] < cut and any(m < cut for _, m in pts[:i_best]):
            return self._dim_bracketed(i_best, now)
        if self.pos - self._dim_from >= self.travel:
            j = self._dim_shoulder_peak(i_best, thr)
            if j is not None:
                return self._dim_bracketed(j, now)
            # No peak magnified either: one at an end is no_peak; a flat magnified curve
            # leaves the 1x verdict standing, if there was one.
            low = min(m for _, m in pts)
            kept_up = all(m >= cut for _, m in pts[i_best + 1 :])  # to the far end (or its clip)
            if (i_best == 0 or kept_up) and low < cut:
                self._to("no_peak")
                return self._fail(
                    "no_peak", "the measure is highest at an end of the travel, even magnified", now
                )
            if self._dim_prior is not None:
                self._to(self._dim_prior[0])
                return self._fail(self._dim_prior[0], self._dim_prior[1] + " (at 1x; magnified, flat)", now)
            self._to("flat")
            return self._fail("flat", "the measure hardly changed over the travel, even magnified", now)
        self._to("sweep")
        return self._go([Drive("far", 3, 1)])

    def _dim_bracketed(self, i: int, now: float) -> list[Command]:
        """The sweep's sample ``i`` is its peak: the fine stage around it (a Gaussian through it
        and its neighbours puts the centre, if its top lies between them)."""
        pts = self._dim
        around = pts[max(0, i - 1) : i + 2]
        fit = fits.fit_peak(
            [p for p, _ in around], [m for _, m in around], models=("gaussian",), max_reject=0
        )
        center = pts[i][0]
        if fit is not None and around[0][0] <= fit.center <= around[-1][0]:
            center = fit.center
        self._to("bracketed")
        self._t_coarse = now - self.t_start
        if self.dim_quiet_fine and self._dim_after_coarse and self.noise < self.dim_noise / 2:
            # Quiet magnified frames: the 1x curve was lost to a small or faint region,
            # not to low light.  The usual fine stage, and a landing by a reading.
            self.fine_scale, self.min_fine_samples, self.fine_parts = self._usual_fine
            self._dim_blind = False
        return self._fine_from(center)

    def _dim_shoulder_peak(self, i_best: int, thr: float) -> int | None:
        """At the end of a sweep with no bracket: when its best sample lies on a shoulder
        falling from the near end stop (no sample nearer than it is significantly lower:
        by the share ``thr``), the highest sample beyond it that stands significantly above a dip between
        it and the shoulder, if a sample after it lies significantly below it too.

        Far out of focus, bright surroundings bleed into a small region, so magnified too its
        measure can be highest near the stop where the sweep starts (`moto door` at 5x, 1/8:
        0.0026 by the stop, falling to 0.0005 at 490-540, 0.0023-0.0025 either side of its
        peak at 612, 0.0005 beyond).  Taken only once the sweep has crossed the whole travel,
        so a higher peak farther on cannot be passed over."""
        pts = self._dim
        cut = pts[i_best][1] * (1.0 - thr)
        if any(m < cut for _, m in pts[:i_best]):
            return None  # the best is no shoulder
        peaks: list[int] = []
        low = math.inf  # the lowest sample since the shoulder's best
        for i in range(i_best + 1, len(pts)):
            if low < pts[i][1] * (1.0 - thr):
                peaks.append(i)
            low = min(low, pts[i][1])
        if not peaks:
            return None
        j = max(peaks, key=lambda i: pts[i][1])
        cut_j = pts[j][1] * (1.0 - thr)
        return j if any(m < cut_j for _, m in pts[j + 1 :]) else None

    def _dim_possible(self) -> bool:
        """The dim fallback is on and not yet tried, and the 1x curve was noisy or shallow
        (a noise estimate from three frames can come out low)."""
        ms = [m for _, m in self.climb.samples]
        shallow = bool(ms) and min(ms) > 0 and max(ms) / min(ms) < self.dim_shallow
        noisy = self.noise_at(self.start_zoom, self.coarse_scale) >= self.dim_noise / 2
        return self._dim_available() and (noisy or shallow)

    def _dim_available(self) -> bool:
        """The dim fallback is on, not yet tried, and the camera can magnify."""
        return bool(self.dim_scale) and not self._dim_mode and self.fine_zoom > 1

    def metrics(self, now: float) -> dict[str, float]:
        """The machine's counts, and how a refocus went (``recall``), a failure's too."""
        return {**super().metrics(now), "recall": self._recalled}

    def _fine_failed(self, outcome: str, detail: str, now: float) -> list[Command]:
        """A failed fine stage.  When the magnified curve still rose steeply at the scan's
        leading edge, the coarse bracket was a false top (a sidelobe of a far-defocused
        pattern, say): climb on at 1x that way, once (:meth:`_resume_coarse`).  When the 1x
        curve was noisy or shallow (:meth:`_dim_possible`), the coarse bracket may have
        taken noise for slope: look again magnified, once.  A refocus falls back to the
        whole search instead (:meth:`_unrecall`)."""
        if self._recalling:
            return self._unrecall()
        if outcome == "no_peak" and self._rising_on():
            return self._resume_coarse()
        if self._dim_possible():
            return self._dim_start()
        self._to(outcome)
        return self._fail(outcome, detail, now)

    def _rising_on(self) -> bool:
        """The fine samples rise to the scan's leading edge, by ``resume_rise`` over the
        lowest, and a coarse climb that way has not been resumed yet (nor is this the dim
        fallback, which swept the whole travel)."""
        if self._resumed or self._dim_mode or not self.resume_rise or len(self._fine) < 3:
            return False
        sgn = self._sgn
        pts = sorted(self._fine, key=lambda p: sgn * p[0])
        last = pts[-1][1]
        return last >= max(m for _, m in pts) and last >= self.resume_rise * min(m for _, m in pts)

    def _contradicts_coarse(self, center: float) -> bool:
        """The 1x samples deny a peak at ``center``: on one side of it, the 1x sample
        nearest (within 1.5 level-3 steps, well inside the 1x curve's main lobe) is
        significantly lower than one at least half a level-3 step farther out.  A fine
        scan that drifted at the noise floor far from a false coarse top fits such a
        peak (tabletop's top strip from 110 reported Done 408 steps off).  Or, until the
        climb has been resumed (``check_across``): the nearest sample on one side is
        significantly lower than one half a level-3 step farther out on the other (the same
        strip from 120, repeat 3, 388 steps off).  Not after the dim fallback, whose sweep
        re-bases the ledger on the near end stop."""
        noise = self.noise_at(self.start_zoom, self.coarse_scale)
        rise = 1.0 + max(self.climb.significance, 4.0 * noise)
        jump = self.levels[2]

        def rises(nearest: list[tuple[float, float]], others: list[tuple[float, float]]) -> bool:
            """The first of ``nearest`` (distance, measure), if within 1.5 jumps, is
            significantly lower than one of ``others`` at least half a jump farther out."""
            if not nearest or nearest[0][0] > 1.5 * jump:
                return False
            d0, m0 = nearest[0]
            return any(d >= d0 + jump / 2 and m > rise * m0 for d, m in others)

        sides = [
            sorted((abs(p - center), m) for p, m in self.climb.samples if (p - center) * side > 0)
            for side in (-1.0, 1.0)
        ]
        if any(rises(same, same[1:]) for same in sides):
            return True
        # Blur grows with |p - f| alike on both sides of focus, so the 1x curve falls away
        # from a true peak both ways.  A region that spans depth can have a lopsided curve,
        # so this only sends the search back to the climb, once: after that it decides
        # nothing (deciding then too failed 5 af-stress runs).
        across = self.check_across and not self._resumed
        return across and (rises(sides[0], sides[1]) or rises(sides[1], sides[0]))

    def _resume_coarse(self) -> list[Command]:
        """Back to 1x and the coarse climb, from here, the way the fine scan rose."""
        self._resumed = True
        self._to("resume")
        return self._climb_again(self.scan_dir)

    @property
    def _recalling(self) -> bool:
        """A refocus whose magnified scan has not yet landed or fallen back."""
        return self._recalled > 0 and self.fit is None

    def _unrecall(self) -> list[Command]:
        """The refocus found no peak it can trust: the whole search, from here, at 1x (the
        climb probes both ways as from any start)."""
        self._recalled = -1.0
        self._to("unrecall")
        self._dim_fine(False)  # a dim refocus's: the whole search has its own dim look to take
        return self._climb_again(None)

    def _climb_again(self, prefer: Direction | None) -> list[Command]:
        """A fresh coarse climb from where the motor is (preferring ``prefer``), at 1x."""
        self._shifts = 0
        self._scale = self.coarse_scale
        self._tiles = self._coarse_n
        self.climb = self._new_climb() if prefer is None else self._new_climb(prefer=prefer)
        zoom = self.start_zoom if self.start_zoom is not None else 1
        return self._go([Zoom(zoom)] if self.zoom != zoom else [])

    def _fine_from(self, center: float) -> list[Command]:
        self.coarse_center = center
        if not self.depth_mode and not self._dim_mode:
            self._tiles = self.fine_tiles  # where the region's parts peak (reported, not used)
        # Scan in the direction the motor last moved, so no slack enters before the first
        # sample; if the motor already passed the centre that way, scan back.
        d = self.last_dir or "far"
        sgn = 1.0 if d == "far" else -1.0
        ahead = sgn * (center - self.pos)  # how far the centre lies ahead, that way
        if ahead < self.fine_step / 4:
            d = "near" if d == "far" else "far"
            sgn = -sgn
        self.scan_dir = d
        if self._moving_possible():
            return self._moving_scan(center)
        start = center - sgn * self.fine_window
        if d == self.last_dir and 0.0 <= sgn * (center - self.pos) <= self.fine_window:
            start = self.pos  # inside the window, moving the right way: sample right here
        return self._start_scan(start, first=True)

    # -- 1a: the coarse climb with the motor moving (``glide``) ------------------------------
    def _glide_possible(self) -> bool:
        """Once the climb knows which way the measure rises (a sample after the probe, not
        probing an end stop), in quiet frames, for a plain search."""
        return (
            self.glide
            and not self._glided
            and len(self.climb.samples) >= 2
            and self.climb.probing is None
            and self._climb_sloped()
            and self._quiet_plain_search
        )

    def _climb_sloped(self) -> bool:
        """The climb's samples differ significantly: it knows which way the measure rises,
        rather than going its preferred way (maybe into an end stop, where a glide would
        see nothing change)."""
        values = [m for _, m in self.climb.samples]
        return min(values) < max(values) * (1.0 - max(self.climb.significance, 4.0 * self.noise))

    @property
    def _quiet_plain_search(self) -> bool:
        """What both searches on the move need: a node that places frames along a move (an
        older one does not), quiet 1x frames, and a plain search (not the dim look, a wide
        region or a refocus).  Quiet: the last 1x sample's frames under
        ``moving_coarse_noise``, and the median under twice that, so that single frames will
        do.  The last rather than the median: relative noise is highest far from focus,
        where the measure is small, and a climb's samples come nearer."""
        if self.last_obs is None or self.last_obs.travel is None:
            return False
        if self.depth_mode or self._dim_mode or self._recalling:
            return False
        seen = self._noise.get((self.start_zoom, self.coarse_scale))
        median = self.noise_at(self.start_zoom, self.coarse_scale)
        if not seen:
            return False
        return seen[-1] < self.moving_coarse_noise and median < 2 * self.moving_coarse_noise

    def _placed(self, travel: float, origin: float, sgn: float, reversed_: bool) -> float | None:
        """The ledger position of a frame ``travel`` along the last drive, for motion the
        ``sgn`` way that began at ``origin``; after a reversal (``reversed_``) the prior's
        slack comes off, and a frame within ``cross_slack`` of the start, where the gear may
        still be taking up its slack, is None."""
        pos = self._travelled(travel)
        if not reversed_:
            return pos
        if sgn * (pos - origin) < self.cross_slack:
            return None
        return pos - sgn * self.backlash

    def _slack_taken(self, sgn: float) -> None:
        """A move the ``sgn`` way that reversed the gear is over: the ledger by the prior."""
        self.pos -= sgn * self.backlash

    def _glide_start(self, go: Direction) -> list[Command]:
        """Drive ``go`` in level-3 drives sent back to back, scoring every frame on the way
        (:mod:`.glide`)."""
        self._glided = True
        self._moving = True
        self._glide_dir = go
        self._glide_reversed = self.last_dir is not None and self.last_dir != go
        self._glide_from = self.pos
        moves: list[Move] = []
        if self.glide_zoom and self._moving_possible():
            self._glide_zoomed = True
            self._scale = self.fine_scale
            self._coarse = self.glide_zoom_coarse
            if not self.depth_mode:
                self._tiles = self.fine_tiles  # where the region's parts peak (reported)
            moves.append(Zoom(self.fine_zoom, self.roi_center))
        self._glide = Glide(
            go,
            noise=self.noise_at(self.start_zoom, self.coarse_scale),
            significance=self.climb.significance,
            before=[] if self._glide_zoomed else self.climb.samples,
            limit=self.travel,
            confirm=self.glide_confirm,
        )
        self.climb.moved = go
        moves.append(Drive(go, 3, 1))
        return self._go(moves)

    def _unzoom_glide(self) -> list[Command]:
        """After a magnified glide without a top: back to the climb's view."""
        if not self._glide_zoomed:
            return []
        self._glide_zoomed = False
        return self._go([Zoom(self.start_zoom or 1)])

    def _glide_over(self, stop_at: float | None = None) -> None:
        """No top: the climb goes on step by step from the settled frame where the drives
        end (the ledger by the prior, as the glide's frames were placed), or where the frames
        stopped changing, at an end stop (``stop_at``: the drives after it moved nothing)."""
        self._glide = None
        self._moving = False
        self._coarse = 0
        if not self.depth_mode:
            self._tiles = 0
        self._glide_outcome = -1.0
        self._scale = self.coarse_scale
        if stop_at is not None:
            self.pos = stop_at
        elif self._glide_reversed:
            self._slack_taken(1.0 if self._glide_dir == "far" else -1.0)

    def _on_glide(self, travel: float, measure: float, tiles: tuple[float, ...], now: float) -> list[Command]:
        assert self._glide is not None
        sgn = sign(self._glide_dir)
        pos = self._placed(travel, self._glide_from, sgn, self._glide_reversed)
        if pos is None:
            return []
        if self._glide_zoomed and self._fine_grid(tiles):
            self._glide_tiles.append((pos, tiles))  # where the region's parts peak (reported)
        return self._glide_step(pos, measure, now, moving=True)

    def _fine_grid(self, tiles: tuple[float, ...]) -> bool:
        """A magnified frame's tiles in the fine stage's grid (outside the depth stage)."""
        return not self.depth_mode and bool(tiles) and len(tiles) == self.fine_tiles**2

    def _on_glide_stopped(self, measure: float, now: float) -> list[Command]:
        """The glide's drives ran out at a top not yet confirmed (it sent no more where the
        finer frames began to fall): the settled frames where they ended are frames of
        the glide too, and the decision waits for a finer one."""
        sgn = sign(self._glide_dir)
        pos = self.pos - (sgn * self.backlash if self._glide_reversed else 0.0)
        return self._glide_step(pos, measure, now, moving=False)

    def _glide_step(self, pos: float, measure: float, now: float, *, moving: bool) -> list[Command]:
        """One frame of the glide at ``pos``; frames alternate between the coarse scale and
        ``glide_scale`` (:meth:`.Glide.add_sharp`)."""
        assert self._glide is not None and self.last_obs is not None
        sgn = sign(self._glide_dir)
        if self._glide_zoomed:
            # Every magnified frame is both: its measure, and its coarse one (the same decode
            # shrunk ``glide_zoom_coarse`` times), whose curve is as wide as the 1x one's.
            sharp = True
            low = self.last_obs.coarse if self.last_obs.coarse is not None else measure
            wide = self._glide.add(pos, low)
            step = self._glide.add_sharp(pos, measure)
            if step.outcome != "top":
                step = wide
        else:
            sharp = self.last_obs.scale != self.coarse_scale
            if self.glide_scale != self.coarse_scale:
                self._scale = self.coarse_scale if sharp else self.glide_scale
            step = self._glide.add_sharp(pos, measure) if sharp else self._glide.add(pos, measure)
        if step.outcome == "top":
            glide = self._glide_topped(now)
            if not self._glide_zoomed:
                self.climb.samples.extend(glide.samples)  # the 1x curve, for the checks to come
            elif glide.rose(max(self._fall, self.glide_rise), sharp=True) and (
                glide.top_gap(self.glide_gap_reach, sharp=True) <= self.glide_gap
            ):
                return self._glide_fine(glide, step.center, measure, now, moving=moving)
            elif glide.rose(self._fall, sharp=True):
                return self._fine_from(step.center)  # a top, but too little of its near side
            else:
                return self._fine_from(self._behind(glide.sharp))  # passed while the zoom settled
            return self._fine_from(step.center)
        if self._glide_zoomed and step.outcome == "on" and self._glide.fell_unrisen(sharp=True):
            # The top went by while the zoom settled, or lies among the first frames.
            glide = self._glide_topped(now)
            return self._fine_from(self._behind(glide.sharp))
        if step.outcome == "stall":
            self._glide_over(step.stop_at)
            return self._unzoom_glide()
        if not moving:
            if not sharp:
                return []  # the finer frame next decides
            return self._go([Drive(self._glide_dir, 3, 1)])  # no top after all: on
        if sgn * (self.pos - pos) <= self.glide_ahead:
            if self._glide.past_best():
                return []  # at the top, maybe: the drives sent will show it
            return self._go([Drive(self._glide_dir, 3, 1)])  # the motor never stops
        return []

    def _glide_topped(self, now: float) -> Glide:
        """The glide is over at a top: the ledger takes the prior's slack off a reversal, as
        the frames' places did.  The glide, for its frames."""
        assert self._glide is not None
        glide, self._glide = self._glide, None
        self._moving = False
        self._coarse = 0
        self._glide_outcome = 1.0
        if self._glide_reversed:
            self._slack_taken(sign(self._glide_dir))
        self._to("bracketed")
        self._t_coarse = now - self.t_start
        return glide

    def _behind(self, frames: Sequence[tuple[float, float]]) -> float:
        """Where the top lies when the magnified glide's frames fell without rising: at
        their best, unless that is the first frame; then where the 1x climb's best sample
        lies between the glide's start and that frame (a glide back through the start), or
        halfway there."""
        if not frames:
            return self._glide_from
        best_p = max(frames, key=lambda p: p[1])[0]
        first = frames[0][0]
        if best_p != first:
            return best_p
        sgn = sign(self._glide_dir)
        top = max(self.climb.samples, key=lambda p: p[1])[0] if self.climb.samples else self._glide_from
        if 0.0 <= sgn * (top - self._glide_from) <= sgn * (first - self._glide_from):
            return top
        return (self._glide_from + first) / 2

    @property
    def _fall(self) -> float:
        """A significant fall of the fine measure, by its noise in the current view."""
        return max(self.fine_significance, 4.0 * self.noise)

    def _glide_fine(
        self, glide: Glide, center: float, measure: float, now: float, *, moving: bool
    ) -> list[Command]:
        """The magnified glide passed the top: its frames are the moving scan's, and the
        settled frames where its drives end are that scan's end sample."""
        self.coarse_center = center
        self.scan_dir = self._glide_dir
        self._mscan = self._mscan_used = True
        self._single = True
        self._mscan_reversed = False
        self._glide_fine_on = True
        self._fine = list(glide.sharp)
        self._fine_tiles = list(self._glide_tiles)
        self._scale = self.fine_scale
        if moving:
            self._moving = True
            self._adapt_frames()  # the end sample's
            return []
        self._moving_done()
        return self._moving_fit(self.pos, measure, now)

    # -- 2a: the fine scan with the motor moving (``moving_fine``) -------------------------
    def _moving_possible(self) -> bool:
        """The first fine scan of a plain search: not after the dim look, of a wide region,
        in a refocus, or once one has been tried."""
        return (
            self.moving_fine
            and not self._mscan_used
            and self.fine_zoom > 1
            and (self.zoom != self.fine_zoom or self._glide_zoomed)
            and not self._fine_select
            and self._quiet_plain_search
        )

    def _moving_scan(self, center: float) -> list[Command]:
        """Magnify and drive through the coarse centre in one level-3 command, scoring the
        frames on the way (the node places each by its timing, ``travel``), to end
        ``moving_past`` beyond it (:mod:`.moving`).  With the centre ``moving_lead`` or more
        ahead, the zoom settles while the drive runs; nearer, or after a glide, the drive
        waits for the magnified view, and the motor moves while it settles so that the
        first frame comes ``moving_before`` before the centre."""
        self._mscan = self._mscan_used = True
        self._moving = True
        self._single = True
        self._scale = self.fine_scale
        self._fine, self._fine_tiles = [], []
        sgn = self._sgn
        lead = sgn * (center - self.pos)
        reverses = self.last_dir is not None and self.last_dir != self.scan_dir
        if not self._glided and lead >= self.moving_lead:
            plan = moving.plan_on_the_way(
                lead,
                reverses,
                levels=self.levels,
                past=self.moving_past,
                adjust=self.moving_adjust,
                backlash=self.backlash,
            )
        else:
            plan = moving.plan_after_zoom(
                lead,
                reverses,
                levels=self.levels,
                past=self.moving_past,
                before=self.moving_before,
                cross=self.cross_slack,
                backlash=self.backlash,
            )
        zoomed = self.zoom == self.fine_zoom
        moves: list[Move] = [] if zoomed else [Zoom(self.fine_zoom, self.roi_center)]
        if plan.back3:
            moves.append(Drive(self._back_dir, 3, plan.back3))
        if plan.adjust:
            moves.append(Drive(self.scan_dir if plan.adjust > 0 else self._back_dir, 2, abs(plan.adjust)))
        if plan.slack_before:
            self._slack_taken(sgn)  # now: the frames to come are placed from after it
        self._mscan_reversed = plan.slack_in_scan
        scan: list[Move] = [Drive(self.scan_dir, 3, plan.k)]
        if plan.wait and not zoomed:
            self._await_zoom = scan
            self.frames_per_sample = 1  # the first frame that shows the view will do
        else:
            moves.extend(scan)
        self._scan_end = center + sgn * self.moving_past
        return self._go(moves)

    def _on_moving(
        self, travel: float, measure: float, tiles: tuple[float, ...], now: float
    ) -> list[Command]:
        if self._glide is not None:
            return self._on_glide(travel, measure, tiles, now)
        if self._await_zoom:
            return self._zoom_shows()
        if self._leg is not None:
            p = self._placed(travel, self._leg_from, 1.0, True)
            if p is not None:
                self._leg.append((p, measure))
            if self._travelled(travel) >= self._move_from + self._move_span - 0.5:
                self._moving = False  # the motor has stopped, by the node's model: the reading next
            return []
        if not self._mscan:
            return []
        sgn = self._sgn
        along = sgn * (self._travelled(travel) - self._move_from)
        if self._glide_fine_on:
            # The glide's drives ran back to back: only the last one's end is a stop.
            if along <= abs(self._move_span) - self.moving_edge:
                p = self._placed(travel, self._glide_from, sgn, self._glide_reversed)
                if p is not None:
                    self._fine.append((p, measure))
                    if self._fine_grid(tiles):
                        self._fine_tiles.append((p, tiles))
            return []
        if not self.moving_edge <= along <= abs(self._move_span) - self.moving_edge:
            # Where the motor starts or stops, by the node's model.  A body whose frames lag
            # otherwise than the model shows the lens there still standing, or still on
            # its way, and such a frame placed by the model would bend the curve (frames
            # lagging 80 ms, af-lag.toml: readings up to 7 steps short).
            return []
        pos = self._placed(travel, self._move_from, sgn, self._mscan_reversed)
        if pos is None:
            return []
        if self._fine_select and tiles:
            measure = sum(tiles[i] for i in self._fine_select)
        self._fine.append((pos, measure))
        if self._fine_grid(tiles):
            self._fine_tiles.append((pos, tiles))
        return []

    def _zoom_shows(self) -> list[Command]:
        """The magnified view shows: the moving scan's drive goes out now."""
        moves, self._await_zoom = self._await_zoom, []
        out = self._go(moves)
        self._adapt_frames()
        return out

    def _moving_redo(self) -> list[Command]:
        """The usual fine scan, around the moving scan's best frame: its single frames were
        too noisy to fit (over ``moving_noise``), or its fit too noisy to read by."""
        if self._fine:
            best = max(self._fine, key=lambda p: p[1])[0]
        else:
            best = self.coarse_center if self.coarse_center is not None else self.pos
        self._single = False
        return self._fine_from(best)

    def _moving_fit(self, end: float, end_measure: float, now: float) -> list[Command]:
        """Fit the moving scan's frames alone, if they rise to a best frame and fall
        significantly past it; else the usual scan around the best.

        A body whose frames lag otherwise than the node's model places every frame on the
        move a few steps off (7.5 for 40 ms at level-3 speed), alike.  The settled sample
        where the scan ended (``end``, ``end_measure``) says by how much: where the fitted
        curve falls to its measure past the peak, less where it was taken.  The frames are
        moved back by that (at most ``moving_shift`` steps; ``lag_shift`` in the metrics),
        so the reading point lands the guard short of the centre, not on the top."""
        sgn = self._sgn
        pts = sorted(self._fine, key=lambda p: sgn * p[0])
        if len(pts) < self.min_fine_samples:
            return self._moving_redo()
        i_best = max(range(len(pts)), key=lambda i: pts[i][1])
        cut = pts[i_best][1] * (1.0 - self._fall)
        rose = any(m < cut for _, m in pts[:i_best])
        fell = any(m < cut for _, m in pts[i_best + 1 :])
        if not (rose and fell):
            # Ended on the top, say.  One level-3 drive more the same way was tried
            # (session 22): af-lag 93 -> 97 %, af.toml 4.62 -> 4.49 s, but af-backlash
            # 100 -> 93 %: its frames, far down the flank, neither measured the shift nor
            # made one curve with the first drive's (the coffee table, 12 units of slack,
            # 5-7 steps off in 3 of 4 runs).
            return self._moving_redo()
        self._lag_shift = math.nan  # unknown unless the end sample tells it
        # After a glide its drives may end far past the top: the frames nearest the end.
        past = [
            p for p in sorted(self._glide_all, key=lambda p: sgn * p[0]) if sgn * (p[0] - pts[i_best][0]) >= 0
        ]
        shift = _shift_to(past or pts[i_best:], end, end_measure, sgn, self.moving_shift)
        if shift is not None:
            self._lag_shift = shift
            self._fine = [(p - shift, m) for p, m in self._fine]
            self._fine_tiles = [(p - shift, t) for p, t in self._fine_tiles]
        return self._fit_fine(now)

    def _moving_done(self) -> None:
        """The moving scan's drive has ended (its first settled sample): the ledger takes
        the prior backlash off a reversal, as the frames' places did, and only the samples
        within ``moving_keep`` of the best are kept (far down a flank the models fit worst)."""
        self._mscan = False
        self._moving = False
        self._glide_all = list(self._fine) if self._glide_fine_on else []
        self._glide_fine_on = False
        if self._mscan_reversed:
            self._slack_taken(self._sgn)
        if self._fine:
            best = max(self._fine, key=lambda p: p[1])[0]
            self._fine = [p for p in self._fine if abs(p[0] - best) <= self.moving_keep]
            self._fine_tiles = [p for p in self._fine_tiles if abs(p[0] - best) <= self.moving_keep]

    def _far_from_recalled(self, measure: float) -> bool:
        """The first frame, at 1x, says that focus has moved too far for a refocus: its
        coarse measure is below ``recall_coarse_ratio`` of the remembered 1x top
        (``recall_coarse``).  The 1x curve is hundreds of steps wide: within the refocus's
        window it stays near its top, and well outside it has mostly fallen."""
        low = measure < self.recall_coarse_ratio * self.recall_coarse
        return bool(self.recall_coarse) and self.zoom == 1 and low

    def _recall_scan(self, now: float) -> list[Command]:
        """A refocus: magnify at once and scan far from ``recall_window`` below where the
        motor is, so that focus, moved either way, most likely lies ahead.  Far, because the
        landing after a far scan crosses the slack in two reversals that cancel, and drives
        far in the units the scan measured; after a near scan the last drives are far
        steps measured in near ones (the lens's asymmetry: +0.5 steps on average here)."""
        self._recalled = 1.0
        self._to("recall")
        self._t_coarse = now - self.t_start
        self.coarse_center = self.pos
        self.scan_dir = "far"
        # Tiles as the fine stage remembered scores them: none in the dim look's, none for a
        # region wider than the magnified view (whose landing was on the region's own view,
        # or it left no memory: no depth stage follows a refocus).
        self._tiles = 0 if self.depth_mode or self.recall_dim else self.fine_tiles
        if self.recall_dim:
            # The landing remembered came from the dim look's own fine stage: scan as it
            # did (decoded at ``dim_scale``, single level-2 steps, frames averaged as the
            # noise asks) and land as it did, by an averaged reading or blind.
            self._dim_fine(True)
            self._dim_after_coarse = False
        start = self.pos - self._sgn * self.recall_window
        return self._start_scan(start, first=True, window=self.recall_window)

    # -- 2b: a region wider than the magnified view: the median depth of its detail ---------
    def _coarse_estimate(self) -> depth.DepthEstimate | None:
        """The depths of the region's parts by the coarse samples' tiles (rough: the samples
        lie a level-3 jump or two apart); None with fewer than 3 positions."""
        return depth.estimate_samples(self._coarse_tiles, fit_points=3)

    def _needs_depth(self, center: float) -> bool:
        """Whether to look at the whole region at 1x after the magnified peak at ``center``:
        unless the coarse tiles put the whole region within ``depth_spread`` steps, and
        their median within half that of ``center``, the region's centre may lie at another
        depth than most of its detail."""
        est = self.coarse_depth
        if not self._depth_check:
            return False
        if est is None:
            return True
        return est.spread > self.depth_spread or not abs(est.median - center) <= self.depth_spread / 2

    def _depth_from(self, center: float) -> list[Command]:
        """Scan at 1x, region decoded at ``depth_scale`` and scored in tiles, ``depth_window``
        either side of the magnified fine stage's peak, the way the motor last moved (so
        no slack enters before the first sample)."""
        self._depth_check = False
        self._to("depth")
        lo, hi = center - self.depth_window, center + self.depth_window
        self.scan_dir = self.last_dir or "far"
        start, end = (lo, hi) if self.scan_dir == "far" else (hi, lo)
        self._depth = []
        self._tiles = self._depth_n
        return self._depth_scan(start, end, first=True)

    def _depth_scan(self, start: float, end: float, *, first: bool = False) -> list[Command]:
        out = self._start_scan(start, first=first, zoom=1, scale=self.depth_scale)
        self._scan_end = end
        return out

    def _on_depth(self, measure: float, now: float) -> list[Command]:
        self._depth.append((self.pos, self.sample_tiles, measure))
        sgn = self._sgn
        if sgn * (self._scan_end - self.pos) >= self.fine_step / 2:
            self._to("scan")
            return self._go([self._step()])
        xs = [p for p, _, _ in self._depth]
        peaks = depth.tile_peaks(xs, [t for _, t, _ in self._depth])
        est = depth.estimate(peaks)
        assert self.fit is not None
        if est is None:
            return self._depth_agrees()  # nothing to add to the fine stage's peak
        self.depth_estimate = est
        self._depth_offset = est.median - self.fit.center
        lead, trail = (max(xs), min(xs)) if sgn > 0 else (min(xs), max(xs))
        m = est.median
        if sgn * (m - lead) > -self.fine_step and self._depth_extends < self.max_depth_extends:
            if not self._depth_back:  # the median lies at the leading edge, or beyond: on
                self._depth_extends += 1
                self._scan_end = self.pos + sgn * self.fine_step
                self._to("extend")
                return self._go([self._step()])
        if sgn * (trail - m) > -self.fine_step and not self._depth_back:
            # behind where the scan started: scan again from before it, up to it
            self._depth_back = True
            self._to("back")
            return self._depth_scan(trail - sgn * 3 * self.fine_step, trail - sgn * self.fine_step)
        # The 1x tiles overrule the magnified peak only when their median lies farther from it
        # than one plane's tiles ever do (4-13 steps: another view, another scale) and than
        # their own noise allows.
        agree = max(self.depth_agree, self.depth_agree_noise * self.noise_at(1, self.depth_scale))
        if not math.isfinite(m) or abs(m - self.fit.center) <= agree:
            return self._depth_agrees()
        self._t_fine = now - self.t_start
        if self.fine_zoom > 1 and self.roi_size is not None:
            # Magnify the part of the region that lies at the median depth, and focus there
            # as the fine stage does: its fit and its image-read landing are the precise ones.
            x = self.roi_center[0] - self.roi_size[0] / 2
            y = self.roi_center[1] - self.roi_size[1] / 2
            n = self._depth_n
            roi = (x, y, *self.roi_size)
            near = self.depth_near
            view = depth.view_on(peaks, n, roi, m, 1.0 / self.fine_zoom, near)
            if view is not None:
                self.roi_center = view
                # ... and measure only the parts of it that lie at that depth
                window = view_window(self.fine_zoom, view)
                seen = (
                    min(x + roi[2], window[0] + window[2]) - max(x, window[0]),
                    min(y + roi[3], window[1] + window[3]) - max(y, window[1]),
                )
                m5 = _grid(seen, self.fine_scale, 16, self.fine_zoom)
                chosen = {p.index for p in peaks if abs(p.position - m) <= near}
                select = depth.tiles_within(roi, n, chosen, window, m5)
                self._refocused = True
                return self._look_again(view, select, m5 if select else 0, m)
        return self._depth_agrees()  # no part of the view at that depth: keep the peak

    def _look_again(
        self, view: tuple[float, float], select: list[int], n: int, center: float
    ) -> list[Command]:
        """The magnified fine stage once more, around ``center``, on the view centred at
        ``view``, measuring the sum of its n x n tiles ``select`` (all of it for none): a
        fresh scan, so the landing reads positions off samples the motor has just made."""
        self.roi_center = view
        self._fine_select = select
        self._tiles = n
        self._looked_again = True
        self._resumed = True  # no climb back from here
        self._shifts = 0
        self._to("again")
        return self._fine_from(center)

    def _depth_agrees(self) -> list[Command]:
        """The region's median depth is the magnified peak's (or cannot be told): the same
        magnified view once more.  (Landing on the first fit after the 1x excursion, by a
        reading off samples taken before it, lost precision: 3-8 steps on some runs.)"""
        assert self.fit is not None
        return self._look_again(self.roi_center, [], 0, self.fit.center)

    # -- 2: fine scan, one direction only ---------------------------------------------------
    @property
    def _back_dir(self) -> Direction:
        return "near" if self.scan_dir == "far" else "far"

    @property
    def _sgn(self) -> float:
        return 1.0 if self.scan_dir == "far" else -1.0

    def _start_scan(
        self,
        start: float,
        *,
        first: bool = False,
        zoom: int | None = None,
        scale: int | None = None,
        window: float | None = None,
    ) -> list[Command]:
        """To ``start``, so that the scan's first sample comes after a move its way;
        ``first``: magnify to ``zoom`` (default ``fine_zoom``) first.  Frames are decoded
        at ``scale`` (default ``fine_scale``) from here."""
        self._scale = self.fine_scale if scale is None else scale
        self._fine = []
        self._fine_tiles = []
        self._single = False
        sgn = self._sgn
        self._scan_end = start + sgn * 2 * (self.fine_window if window is None else window)
        moves: list[Move] = []
        zoom = self.fine_zoom if zoom is None else zoom
        if first and zoom != self.zoom:
            moves.append(Zoom(zoom, self.roi_center if zoom > 1 else None))
        delta = start - self.pos
        if delta == 0.0 and self.last_dir == self.scan_dir:
            pass  # sample right here: the last motion was the scan's way
        elif sgn * delta >= self.fine_step / 2 or (sgn * delta > 0 and self.last_dir == self.scan_dir):
            moves.extend(plan_drives(delta, self.levels, 2))
        else:  # overshoot the other way, then take the slack up with the first scan step
            n = self._take_up
            moves.extend(plan_drives(delta - sgn * n * self.levels[1], self.levels, 2))
            moves.append(Drive(self.scan_dir, 2, n))
        return self._go(moves)

    @property
    def _take_up(self) -> int:
        """Level-2 drives of a scan's first step after a reversal: one scan step, or as many
        as surely cross a slack of up to ``cross_slack``."""
        return max(self.fine_parts, landing.crossing_drives(self.cross_slack, self.levels))

    def _step(self) -> Drive:
        return Drive(self.scan_dir, 2, self.fine_parts)

    def _on_fine(self, measure: float, now: float) -> list[Command]:
        if self._await_zoom:
            return self._zoom_shows()
        if self._mscan:
            self._moving_done()
            if self.noise > self.moving_noise:
                return self._moving_redo()
            return self._moving_fit(self.pos, measure, now)
        self._fine.append((self.pos, measure))
        if not self.depth_mode and self.sample_tiles:
            self._fine_tiles.append((self.pos, self.sample_tiles))
        sgn = self._sgn
        pts = sorted(self._fine, key=lambda p: sgn * p[0])  # in the order of the scan's way
        i_best = max(range(len(pts)), key=lambda i: pts[i][1])
        if self.cross_slack and i_best + 1 < len(pts):
            # After a scan back (see _turn), the scan first fills the gap to the samples
            # taken before it: the peak may lie in it.
            if sgn * (pts[i_best + 1][0] - self.pos) > 1.5 * self.fine_step:
                self._to("scan")
                return self._go([self._step()])
        cut = pts[i_best][1] * (1.0 - self._fall)
        low_after = any(m < cut for _, m in pts[i_best + 1 :])
        if low_after and i_best > 0 and len(pts) >= self.min_fine_samples:
            if self._recalling and not self._dim_mode and i_best > self.recall_keep:
                # A refocus's peak may lie anywhere in its window, with many samples up one
                # flank; far down it the curve's shape is the models' weakest part.  Fit the
                # top, as the full search's scans around the coarse estimate see it.  Not
                # a dim refocus: its curve is broad and noisy, and it fits every sample, as
                # the dim look's fine stage does.
                self._fine = pts[i_best - self.recall_keep :]
            return self._fit_fine(now)
        if low_after and i_best == 0:
            # Best where the scan started.  If the next sample is as high within the noise,
            # the top may lie between them: a fit with its centre inside the scan lands
            # from these samples.  Otherwise the peak lies behind: turn round (which, crossing
            # the slack, joins samples taken after a round trip whose direction asymmetry
            # shifts them by a step or more against these).
            if len(pts) >= self.min_fine_samples and pts[1][1] >= cut:
                fitted = self._fine_fit()
                if self._inside(fitted[3], fitted[0]):
                    return self._fit_fine(now, fitted)
            return self._turn(now)
        if sgn * (self._scan_end - self.pos) >= -self.fine_step / 2 or low_after:
            self._to("scan")
            return self._go([self._step()])
        # Still rising at the end of the window: on, a few times (a refocus once: focus has
        # moved farther than a refocus is for, and the whole search finds it sooner).
        if self._shifts >= (1 if self._recalling else self.max_shifts + 2):
            return self._fine_failed("no_peak", "the fine scan found no peak near the coarse one", now)
        self._shifts += 1
        self._scan_end += sgn * 2 * self.fine_step
        self._to("shift")
        return self._go([self._step()])

    def _turn(self, now: float) -> list[Command]:
        """Scan back the other way from here; the first step takes up the slack.

        With ``cross_slack`` the slack of that reversal is unknown, and the samples on either
        side of it would not make one curve: the scan goes back instead, two scan steps
        before where it began, and runs its way again from there (two reversals of one
        commanded length, whose slack cancels), so every sample is taken moving one way.  A
        scan back reaches two steps where a turned scan runs on: it may go back once more."""
        if self._shifts >= self.max_shifts + (1 if self.cross_slack else 0):
            return self._fine_failed("no_peak", "the fine scan found no peak near the coarse one", now)
        self._shifts += 1
        self._to("shift")
        if self.cross_slack:
            sgn = self._sgn
            begun = min((p for p, _ in self._fine), key=lambda p: sgn * p)
            n = self._take_up
            start = begun - sgn * 2 * self.fine_step
            # In level-2 drives only: a level-3 drive's jitter (5 % of 47 steps) would shift
            # the samples to come against those taken so far.
            k = max(1, round(sgn * (self.pos - start) / self.levels[1]) + n)
            return self._go([Drive(self._back_dir, 2, k), Drive(self.scan_dir, 2, n)])
        self.scan_dir = self._back_dir
        self._scan_end = self.pos + self._sgn * (2 * self.fine_window + self.fine_step)
        out = self._go([self._step()])
        # The reversal takes up the slack first: keep the ledger in the units of the
        # samples so far, so they and the ones to come make one curve.
        self.pos -= self._sgn * self.backlash
        return out

    def _shift(self, start: float, now: float) -> list[Command]:
        if self._shifts >= self.max_shifts:
            return self._fine_failed("no_peak", "the fine scan found no peak near the coarse one", now)
        self._shifts += 1
        self._to("shift")
        return self._start_scan(start)

    def _fine_fit(self) -> tuple[list[float], list[float], float, fits.Fit | None]:
        """The fine samples in order of position, the noise of one, and the curve they fit."""
        xs = [p for p, _ in self._fine]
        ys = [m for _, m in self._fine]
        order = sorted(range(len(xs)), key=lambda i: xs[i])
        xs = [xs[i] for i in order]
        ys = [ys[i] for i in order]
        models = _fine_models(len(xs))
        # Each sample averages ``frames_per_sample`` frames (a moving scan's, one): judge the
        # fit by its noise.
        noise = self.noise / math.sqrt(1 if self._single else self.frames_per_sample)
        return xs, ys, noise, fits.fit_peak(xs, ys, noise=max(noise, 0.005), models=models)

    def _kept_peak(self, xs: list[float], ys: list[float], noise: float, fit: fits.Fit) -> float:
        """The peak a refocus compares: the fit's, unless it is far narrower than the
        samples lie apart (under ``fit_min_width`` of their median spacing); then the peak
        of the best fit no narrower than that.  Such a fit may place the top well (the
        landing keeps it), but its height is its own invention: af-refocus's coffee cup
        rim, sampled every 12.8 steps, fitted 0.34 wide and 1.65 times higher than its best
        sample, and its refocus, seeing no such top, took the scene for another."""
        gaps = sorted(b - a for a, b in itertools.pairwise(xs))
        floor = self.fit_min_width * gaps[len(gaps) // 2] if gaps else 0.0
        if fit.width >= floor:
            return fit.peak
        models = _fine_models(len(xs))
        wide = fits.fit_peak(xs, ys, noise=max(noise, 0.005), models=models, min_width=floor)
        return wide.peak if wide is not None else max(ys)

    def _inside(self, fit: fits.Fit | None, xs: Sequence[float]) -> bool:
        """A fit whose centre lies inside the scan, a quarter step from either end."""
        inner = 0.25 * self.fine_step
        return fit is not None and xs[0] + inner < fit.center < xs[-1] - inner

    def _fit_fine(
        self, now: float, fitted: tuple[list[float], list[float], float, fits.Fit | None] | None = None
    ) -> list[Command]:
        xs, ys, noise, fit = fitted or self._fine_fit()
        inner = 0.25 * self.fine_step
        if self._single and (
            fit is None
            or not self._inside(fit, xs)
            or fit.rms > max(self.poor_fit_rms, 4.0 * noise)
            or 1.0 - min(ys) / max(ys) < max(self.min_contrast, 6.0 * max(noise, fit.rms))
            or fit.offset_for(0.8 * fit.peak) < self.moving_min_width  # frames 7.5 steps apart
        ):
            return self._moving_redo()  # step by step, around the best frame
        if fit is None or not self._inside(fit, xs):
            ahead = fit is not None and (
                fit.center > xs[-1] - inner if self.scan_dir == "far" else fit.center < xs[0] + inner
            )
            if ahead and len(xs) < 2 * self.min_fine_samples + 2:
                self._to("scan")  # the centre is at the scan's leading edge: one more step
                return self._go([self._step()])
            return self._fine_failed(
                "poor_fit", "no curve with a peak inside the fine scan fits the samples", now
            )
        if fit.rms > max(self.poor_fit_rms, 4.0 * noise):
            return self._fine_failed(
                "poor_fit", f"the best fit ({fit.model}) misses by {fit.rms:.0%} RMS", now
            )
        contrast = 1.0 - min(ys) / max(ys)
        if contrast < max(self.min_contrast, 6.0 * max(noise, fit.rms)):
            return self._fine_failed(
                "poor_fit", f"the peak ({contrast:.0%} over the scan) is not clear of the noise", now
            )
        self._peak_kept = self._kept_peak(xs, ys, noise, fit)
        if self._recalling and not (
            self._recall / self.recall_band <= self._peak_kept <= self._recall * self.recall_band
        ):
            return self._unrecall()  # a bump far from focus, or not the scene remembered
        if (
            self.check_coarse
            and not (self._dim_mode or self._looked_again)
            and self._contradicts_coarse(fit.center)
        ):
            if not self._resumed:
                return self._resume_coarse()
            self._to("poor_fit")
            return self._fail("poor_fit", "the magnified peak is not where the 1x curve rises", now)
        self.fit = fit
        self.fine_depth = self._fine_depth()
        self._t_fine = now - self.t_start
        guard = min(max(self.levels[1], self.guard_widths * fit.width), 3 * self.levels[1])
        if self._single:
            guard = min(max(self.levels[1], self.guard_widths * _guard_width(fit)), 3 * self.levels[1])
            # Frames placed on a level-3 move stretch the curve by its jitter (5 %), and a
            # reading by as much of its distance: read nearer the top.  Unless the frames'
            # lag is unknown (no shift measured): they may all lie a few steps off, and the
            # reading point with them.
            guard = min(guard, self.moving_guard)
            if math.isnan(self._lag_shift):
                guard += self.moving_shift_guard
        # Where to focus comes before how to land: a region whose detail may lie at another
        # depth than its centre is looked at whole first, however the landing would go.
        if self._needs_depth(fit.center):
            return self._depth_from(fit.center)
        # After the dim look, only ``dim_reading_frames`` may make a reading (0: always blind).
        cap = self.dim_reading_frames if self._dim_blind else self.reading_frames
        frames = self._frames_to_read(landing.reading_error(fit, guard, noise), cap)
        if frames is None or (self._dim_blind and not cap):
            if self._single:
                return self._moving_redo()  # never blind by frames placed on the move
            return self._land_blind(fit, now)
        self._read_frames = frames
        self._to("fitted")
        # After a moving scan the motor may stand far from the peak: a long way to the
        # reading point in level-3 drives lands a few steps either way of it (their jitter,
        # the slack), so it aims ``moving_margin`` farther down the flank, and the reading
        # there brings it closer, still moving far, to read again (``reread_beyond``).
        # After a magnified near glide, the far leg's frames say how far a far step goes
        # along the fitted curve (``leg_scale``).
        scale_leg = self.leg_scale and self._glide_zoomed and self.scan_dir == "near" and self._single
        long_way = self._single and abs(fit.center - self.pos) - guard > self.levels[2] + self.cross_slack
        margin = min(self.moving_margin, fit.width) if long_way else 0.0
        plan = landing.approach_legs(
            self.scan_dir,
            self.pos,
            fit.center,
            guard + margin,
            self.levels,
            self.backlash,
            self.cross_slack,
            self.approach_overshoot,
            self.levels[2] + self.cross_slack if self._single and not scale_leg else math.inf,
            self.one_level3 if self._single and self.one_level3[1] > 0 and not scale_leg else None,
        )
        if scale_leg and plan.legs and all(d.direction == "far" for d in plan.legs):
            self._leg, self._leg_from, self._moving = [], self.pos, True
        self._guard = plan.guard - margin
        self._final_reverses = plan.final_reverses
        # Whether the way to the reading point reverses once, and which way: then the reading
        # measures the slack that reversal crossed (+1: near to far, -1: far to near).
        if self.scan_dir == "near" and not plan.final_reverses:
            self._slack_sign = 1.0
        elif self.scan_dir == "far" and plan.final_reverses:
            self._slack_sign = -1.0
        return self._go(plan.legs)

    def _fine_depth(self) -> depth.DepthEstimate | None:
        """Where the region's parts peak along the fine scan (its tiles); None without tiles."""
        return depth.estimate_samples(
            self._fine_tiles, min_rise=self.fine_tile_rise, edge_reach=self.fine_edge_reach
        )

    def _frames_to_read(self, error: float, cap: int) -> int | None:
        """How many frames each reading of the landing averages, for a reading ``error``
        steps off as the samples are averaged: 0 (as the samples) when that is within
        ``max_reading_error``; else as many as bring it to ``reading_aim`` (the error falls
        as the square root of the frames), if at most ``cap``; else None: land blind."""
        if error <= self.max_reading_error:
            return 0
        if not math.isfinite(error) or self.reading_aim <= 0:
            return None
        frames = math.ceil(self.frames_per_sample * (error / self.reading_aim) ** 2)
        return frames if frames <= cap else None

    def _land_blind(self, fit: fits.Fit, now: float) -> list[Command]:
        """The curve is too shallow for its noise to read a position from one frame: drive to
        the fitted centre by the ledger (:func:`.landing.blind_drives`)."""
        moves = landing.blind_drives(
            self.scan_dir,
            self.pos,
            fit.center,
            self.levels,
            self.backlash,
            self.cross_slack,
            coarsest=self.blind_level,
        )
        return self._land(moves, fit.peak, now, outcome="blind")

    # -- 3 and 4: landing check ------------------------------------------------------------
    def _read(self, measure: float) -> float:
        """How far short of the fitted centre a frame of ``measure`` on the near flank is."""
        assert self.fit is not None
        return landing.flank_reading(self.fit, self._fine, measure)

    def _reading_topped(self, measure: float) -> float | None:
        """The reading's measure, averaged with the frames before it at this point; None
        while the noise now known says it needs more frames to read within
        ``reading_topup_aim`` (at most ``reading_frames``): then ``_read_more`` of them come
        next."""
        taken = self.frames_per_sample
        total, n = self._read_sum + measure * taken, self._read_n + taken
        mean = total / n
        self._read_sum, self._read_n, self._read_more = 0.0, 0, 0
        self._read_averaged = n
        if not (self._single and self.noise_known):
            return mean
        assert self.fit is not None
        d = max(self._read(mean), self.levels[1])
        err = landing.reading_error(self.fit, d, self.noise)
        if not math.isfinite(err):
            return mean
        need = min(self.reading_frames, math.ceil((err / self.reading_topup_aim) ** 2))
        if need <= n:
            return mean
        self._read_sum, self._read_n, self._read_more = total, n, need - n
        return None

    def _on_landing(self, measure: float, now: float) -> list[Command]:
        assert self.fit is not None
        if self.state is S.APPROACH:
            topped = self._reading_topped(measure)
            if topped is None:
                return []
            measure = topped
            if self._single and self.noise > self.moving_noise:
                # The first frames at rest in this view since a glide's own: single frames
                # that noisy were not to be fitted (as a moving scan's end sample says).
                self._to("noisy")
                self._leg, self._moving = None, False
                return self._moving_redo()
        d = self._read(measure)
        if self._leg is not None:
            leg, self._leg, self._moving = self._leg, None, False
            self._leg_k = _leg_scale(self.fit, leg, self.pos, measure)
        d /= self._leg_k
        if self.state is S.APPROACH:
            # This frame is a position reading: on the near flank of the fitted curve, its
            # measure says how far the centre still is.  The drive there reverses (near to
            # far), so it adds the slack; it is in the units the scan was made in.
            near_top = measure >= self.fit.peak or d < self.reread_within
            if self._single and near_top and self.cross_slack and not (self._final_reverses or self._reread):
                # So near the top that a reading says little (a level-3 drive's jitter and
                # the motor's asymmetry on the way here, after frames placed on a move):
                # back off near past the guard point by the slack's width, come far again
                # and read there.
                self._reread = True
                self._to("closer")
                n = landing.crossing_drives(self.cross_slack, self.levels)
                back = max(1, round((self._guard - min(d, self._guard)) / self.levels[1])) + n
                return self._go([Drive("near", 2, back), Drive("far", 2, n)])
            if measure >= self.fit.peak:
                # Above the fitted top (a narrow peak sampled sparsely is fitted low): the
                # reading says 0 and cannot be trusted there; the plan says ``guard`` but the
                # round trip to here moves the motor a step or two.  Take the middle.
                d = self._guard / 2
            elif self._slack_sign and not self._reread:
                # The plan put the motor ``guard`` short with the prior's slack; the image
                # says ``d``: the difference is the slack's own (reported, not used).
                self._slack = self.backlash + self._slack_sign * (d - self._guard)
            if self.cross_slack and not self._final_reverses and not self._reread:
                if d > self._guard + (self.moving_reread if self._single else self.reread_beyond):
                    # Farther down the flank than planned (more slack than the prior), where
                    # a reading is coarser: closer, still moving far, and read again there.
                    self._reread = True
                    self._to("closer")
                    return self._go(plan_drives(d - self._guard, self.levels, 2))
            self._to("read")
            self.reading = d
            if not self._final_reverses:
                return self._land(plan_drives(d, self.levels, 1), measure, now)
            # Far from where the plan put it: the slack is not what was assumed.  Look at
            # the landing, and creep on if still short.
            self._check = abs(d - self._guard) > max(self.slack_margin, 0.15 * self.fit.width)
            if not self._check:
                return self._land(plan_drives(d + self.backlash, self.levels, 1), measure, now)
            self._last_measure = measure
            return self._go(plan_drives(d + self.backlash, self.levels, 1))
        # Creep on only while the measure still rises: the reading cannot tell the two
        # flanks apart, and past the top the way back would reverse.
        rising = measure > self._last_measure * (1.0 + 2.0 * self.noise)
        self._last_measure = measure
        if d > self.accept and rising and self._creeps < self.max_creeps:
            self._creeps += 1
            return self._go(plan_drives(d, self.levels, 1))
        self._checked = True
        return self._land([], measure, now)

    def _land(self, moves: list[Drive], measure: float, now: float, outcome: str = "landed") -> list[Command]:
        assert self.fit is not None
        if not self._checked:
            measure = self.fit.peak  # not looked at: report what the fit expects there
        d = self._read(measure) if self._checked else 0.0
        self._to(outcome)
        return self._finish(
            measure,
            "fit",
            now,
            moves=moves,
            fit_rms=self.fit.rms,
            fit_width=self.fit.width,
            expected=self.fit.peak,
            reading=self.reading,
            leg_scale=self._leg_k,
            **({} if self._slack is None else {"slack": self._slack}),
            landing_offset=d,
            checked=float(self._checked),
            blind=float(outcome == "blind"),
            reading_frames=float(self._read_frames),
            reading_averaged=float(self._read_averaged),
            dim=float(self._dim_mode),
            resumed=float(self._resumed),
            coarse_error=self.fit.center - (self.coarse_center or 0.0),
            shifts=float(self._shifts),
            glide=self._glide_outcome,
            moving=float(self._single),
            **({} if math.isnan(self._lag_shift) else {"lag_shift": self._lag_shift}),
            coarse_seconds=self._t_coarse,
            fine_seconds=self._t_fine - self._t_coarse,
            approach_seconds=now - self.t_start - self._t_fine,
            coarse_samples=float(len(self.climb.samples)),
            fine_samples=float(len(self._fine)),
            recall=self._recalled,
            **self._memory(),
            **self._depth_metrics(),
            **self._fine_depth_metrics(),
        )

    def _memory(self) -> dict[str, float]:
        """What a later refocus of this region compares its fit with (``recall_peak``): the
        peak of the magnified fit, on the region's own view (not on a part of a wide region
        that the depth stage chose, with its tiles: a refocus would have to choose again;
        a wide region landed on its own view is remembered, and its refocus scans that view
        with no depth stage, as a drift moves every depth alike).  After the dim
        look, when its own fine stage made it (``dim_scale``, averaged frames): with
        ``memory_dim`` = 1, and no top of a 1x curve that was lost in the noise.  A quiet dim
        look, handed over to the usual fine stage, leaves nothing: a small or faint region's
        refocus, with no 1x curve to check it, landed 2.8-4.4 steps off in 6 of 64 runs
        (af-refocus x 8) that the whole search lands.  Otherwise the top of the 1x curve too
        (``memory_coarse``: the best coarse sample, which a refocus carries on)."""
        moved = self.roi_center != self._roi_center0  # the depth stage looked at a part
        if self.fit is None or self.fine_zoom <= 1 or moved or self._fine_select:
            return {}
        out = {"memory_peak": self._peak_kept or self.fit.peak}
        if self._dim_mode:
            return {**out, "memory_dim": 1.0} if self._dim_blind else {}
        # A magnified glide saw no 1x frame near the top: a shell that scores one at the
        # landing (the view back at 1x) gives it (``memory_coarse``, runner and bench).
        best = 0.0 if self._glide_zoomed else max((m for _, m in self.climb.samples), default=0.0)
        top = self.recall_coarse if self._recalled > 0 else best
        if top > 0 and self.start_zoom == 1:
            out["memory_coarse"] = top
        return out

    @property
    def spans_depth(self) -> bool:
        """The region's parts come into focus too far apart for all of it to be sharp at once:
        by its tiles along the fine scan, the middle 80 % of its detail peaks over
        ``spans_steps`` or more (or 10 % of it beyond one end of the scan), or
        ``spans_beyond`` of it beyond either end.  The search
        lands where the region's contrast peaks all the same; this says that parts of it
        will be soft there.  False when the fine stage had no tiles (a region wider than the
        magnified view: the depth stage focuses those on the median depth of their detail),
        and when the magnified frames' noise reaches ``spans_noise``: in low light the
        tiles' peaks scatter as far as a real spread of depth (docs/autofocus.md)."""
        est = self.fine_depth
        if est is None or self.noise_at(self.fine_zoom, self.fine_scale) >= self.spans_noise:
            return False
        return est.beyond_low + est.beyond_high >= self.spans_beyond or est.spread >= self.spans_steps

    def _fine_depth_metrics(self) -> dict[str, float]:
        est = self.fine_depth
        if est is None:
            return {}
        spread = est.spread
        return {
            "fine_spread": spread if math.isfinite(spread) else -1.0,
            "fine_beyond": est.beyond_low + est.beyond_high,
            "fine_tiles": float(est.tiles),
            "spans_depth": float(self.spans_depth),
        }

    def _depth_metrics(self) -> dict[str, float]:
        """What the whole-region look at 1x found, for a search that made one."""
        out: dict[str, float] = {}
        if self.coarse_depth is not None:
            spread = self.coarse_depth.spread
            out["coarse_spread"] = spread if math.isfinite(spread) else -1.0
        est = self.depth_estimate
        if est is None:
            return out
        if math.isfinite(self._depth_offset):
            out["depth_offset"] = self._depth_offset
        return {
            **out,
            "depth_noise": self.noise_at(1, self.depth_scale),
            "refocused": float(self._refocused),
            "looked_again": float(self._looked_again),
            "depth_spread": est.spread if math.isfinite(est.spread) else -1.0,
            "depth_samples": float(len(self._depth)),
        }


def _guard_width(fit: fits.Fit) -> float:
    """The width a moving fit's reading point is set from: the width a Gaussian would have
    (where the fit falls to e^-1/2 of its top), whatever the model.  A hyperbola's own
    ``width`` is its tip's, a few steps on a curve 40 wide (`dim saucer` #2 read on the
    top, 1.5 steps past it).  Keeping a Lorentzian's half width where it is more (session
    23) put af-refocus `tabletop coins, drift +19` 3 steps off rather than 7, both misses,
    and lost a synthetic lag row a seed: left out."""
    return fit.offset_for(fit.peak * math.exp(-0.5))


def _leg_scale(fit: fits.Fit, leg: Sequence[tuple[float, float]], at: float, measure: float) -> float:
    """Fitted-curve steps per step of a far leg (1.0 when its frames cannot tell): the
    frames ``leg`` (ledger position, measure) on the way to ``at``, where the reading of
    ``measure`` was taken, lie ``at - x`` before it; the curve puts them ``offset_for(m)``
    from the top.  The slope of the one against the other, through any constant offset
    (a frame's lag)."""
    pts = [(at - x, fit.offset_for(m)) for x, m in leg if m < 0.98 * measure and at - x > 1.0]
    if len(pts) < 4:
        return 1.0
    xs = [p for p, _ in pts]
    ys = [q for _, q in pts]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if max(xs) - min(xs) < 8.0 or sxx <= 0:
        return 1.0
    k = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    return k if 0.85 <= k <= 1.15 else 1.0


def _fine_models(n: int) -> tuple[str, ...]:
    """The models a fine scan of ``n`` samples is fitted with (the hyperbola from 5)."""
    return ("hyperbola", "lorentzian", "gaussian") if n >= 5 else ("lorentzian", "gaussian")


def _shift_to(
    past: Sequence[tuple[float, float]], end: float, end_measure: float, sgn: float, most: float
) -> float | None:
    """How far the frames ``past`` the top (in the scan's order, the best first) lie from
    where a settled sample (``end``, ``end_measure``) says they are: where the last two of
    them (the one before the last down the flank, 10 % under the best at least), extended
    in log measure, fall to ``end_measure``, less ``end``.  Data, not a
    model's tails (a fit's tail, 72 steps out, put a +7.5 shift at -3.4).  None when they
    do not fall, or the answer is more than ``most`` away."""
    if len(past) < 2 or end_measure <= 0:
        return None
    (x0, m0), (x1, m1) = past[-2], past[-1]
    if not 0 < m1 < m0 or sgn * (x1 - x0) <= 0 or m0 > 0.9 * past[0][1]:
        return None  # the second from the end must be down the flank, not on the top
    slope = (math.log(m1) - math.log(m0)) / (x1 - x0)
    x_e = x1 + (math.log(end_measure) - math.log(m1)) / slope
    shift = x_e - end
    return shift if abs(shift) <= most else None


LIVEVIEW_PX = (960, 640)  # a Canon body's live view; only sizes the tiles


def _cover(roi_size: tuple[float, float] | None, zoom: int) -> float:
    """The share of a region of ``roi_size`` (fractions) that a view magnified ``zoom``
    times can show at once (1 without a size or magnification)."""
    if roi_size is None or zoom <= 1:
        return 1.0
    w, h = roi_size
    span = 1.0 / zoom
    return min(w, span) * min(h, span) / (w * h) if w > 0 and h > 0 else 1.0


def _grid(roi_size: tuple[float, float], scale: int, most: int, zoom: int = 1) -> int:
    """Tiles per side for a region of ``roi_size`` (fractions of the full view) seen
    magnified ``zoom`` times and decoded at ``scale``: at most ``most``, each about 8 pixels
    or more on a side, at least 2."""
    return max(2, min(most, int(_region_px(roi_size, scale, zoom) // 8)))


def _region_px(roi_size: tuple[float, float], scale: int, zoom: int = 1) -> float:
    """The shorter side, in decoded pixels, of a region of ``roi_size`` (fractions of the
    full view) seen magnified ``zoom`` times and decoded at ``scale``."""
    return min(roi_size[0] * LIVEVIEW_PX[0], roi_size[1] * LIVEVIEW_PX[1]) * zoom / scale
