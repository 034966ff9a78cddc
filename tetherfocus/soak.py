"""``tetherfocus soak``: a whole simulated rig under load for minutes, watched for leaks and hangs.

It starts ``--cameras`` simulated node processes, the controller and the viewer (all on
127.0.0.1, ports chosen by the OS), attaches ``--browsers`` headless Chromium pages to the
viewer, and starts an autofocus every ``--af-every`` seconds, round robin over the cameras.
It records, for every process it started, resident memory (VmRSS) and open file
descriptors: at launch, after the warm-up (``start``), every ``--sample`` seconds, and at
the end; and it follows every autofocus run through the controller's ``af.*`` events until
its result.

It passes when every autofocus it started ended (ok, or failed with a reason), no process
died, no process holds more than a few more file descriptors at the end than after the
warm-up, and no process's RSS grew by more than ``--rss-slack`` (fraction) plus 25 MB.  The
report is JSON (stdout, and ``--json OUT``); exit status 0 on pass, 1 on fail.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tetherfocus.client import Client, RemoteError, Subscriber
from tetherfocus.outputs import check_out, write_text
from tetherfocus.procs import ReadyProcess, open_fds, rss_kb, stop_all, tetherfocus_argv

SCENES = ("chart", "coffee", "tabletop", "moto", "highlight", "lowcontrast")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-sync",
    "--no-first-run",
    "--disable-component-update",
    "--disable-quic",
]
RESULT_WAIT_S = 120.0  # a run without a result this long after it started counts as unended
RSS_ABS_SLACK_KB = 25_000
FD_SLACK = 5


class Proc(ReadyProcess):
    """``tetherfocus ARGS`` as a child that dies with us, its stderr in ``TMP/NAME.log``."""

    def __init__(self, name: str, args: Sequence[str], tmp: Path) -> None:
        super().__init__(tetherfocus_argv(*args), name=name, log=tmp / f"{name}.log")
        self.samples: list[tuple[float, int, int]] = []  # (t, rss_kb, fds)

    def sample(self, t: float) -> tuple[int, int] | None:
        try:
            rss, fds = rss_kb(self.pid), open_fds(self.pid)
        except OSError:
            return None
        self.samples.append((round(t, 1), rss, fds))
        return rss, fds


def _start(name: str, args: list[str], tmp: Path, timeout: float = 90.0) -> Proc:
    """Start ``tetherfocus ARGS`` and wait for its JSON ready line.  Raises RuntimeError."""
    return Proc(name, args, tmp).wait_ready(timeout)


@dataclass
class Run:
    camera: str
    run_id: int
    started: float
    result: dict[str, Any] | None = None
    ended: float | None = None


class Soak:
    def __init__(
        self,
        *,
        seconds: float,
        cameras: int,
        browsers: int,
        af_every: float,
        sample_every: float,
        warmup: float,
        fps: float,
        rss_slack: float,
        workdir: Path,
    ) -> None:
        self.seconds, self.cameras, self.browsers = seconds, cameras, browsers
        self.af_every, self.sample_every, self.warmup = af_every, sample_every, warmup
        self.fps, self.rss_slack, self.tmp = fps, rss_slack, workdir
        self.procs: list[Proc] = []
        self.runs: dict[int, Run] = {}
        self.refused: dict[str, int] = {}
        self.pages: list[Any] = []
        self.page_errors: list[str] = []
        self.warm_index: dict[str, int] = {}  # per process: the sample taken after the warm-up

    # ------------------------------------------------------------------ rig

    def start_rig(self) -> tuple[Proc, Proc]:
        nodes = []
        for i in range(self.cameras):
            args = [
                "node",
                "--camera",
                f"sim:{SCENES[i % len(SCENES)]}",
                "--name",
                f"cam{i + 1}",
                "--seed",
                str(11 + i),
                "--pub",
                "tcp://127.0.0.1:*",
                "--rep",
                "tcp://127.0.0.1:*",
                "--fps",
                f"{self.fps:g}",
            ]
            nodes.append(_start(f"cam{i + 1}", args, self.tmp))
            self.procs.append(nodes[-1])
        lines = []
        for n in nodes:
            lines += [
                "[[camera]]",
                f'name = "{n.name}"',
                f'rep = "{n.ready["rep"]}"',
                f'pub = "{n.ready["pub"]}"',
                "",
            ]
        rig = self.tmp / "rig.toml"
        rig.write_text("\n".join(lines))
        ctl = _start(
            "controller",
            ["controller", "--rig", str(rig), "--rep", "tcp://127.0.0.1:*", "--pub", "tcp://127.0.0.1:*"],
            self.tmp,
        )
        self.procs.append(ctl)
        viewer = _start(
            "viewer",
            [
                "viewer",
                "--rig",
                str(rig),
                "--controller",
                ctl.ready["rep"],
                "--controller-pub",
                ctl.ready["pub"],
                "--http",
                "127.0.0.1:0",
            ],
            self.tmp,
        )
        self.procs.append(viewer)
        return ctl, viewer

    def stop_rig(self) -> dict[str, int | None]:
        codes = stop_all(self.procs[::-1], 20.0)[::-1]  # newest first
        return {p.name: code for p, code in zip(self.procs, codes, strict=True)}

    # ------------------------------------------------------------------ the run

    def _sample_all(self, t: float) -> None:
        for p in self.procs:
            p.sample(t)

    def _follow(self, sub: Subscriber, until: float) -> None:
        """Fold af events into the runs until ``until`` (monotonic)."""
        while True:
            left = until - time.monotonic()
            if left <= 0:
                return
            ev = sub.recv(min(left, 0.5))
            if ev is None or ev.header.get("kind") != "result":
                continue
            run = self.runs.get(int(ev.header.get("run_id", -1)))
            if run is not None and run.result is None:
                run.result = dict(ev.header.get("result") or {})
                run.ended = time.monotonic()

    def run(self, chromium: str | None) -> dict[str, Any]:
        t_launch = time.monotonic()
        ctl, viewer = self.start_rig()
        names = [f"cam{i + 1}" for i in range(self.cameras)]
        self._sample_all(0.0)
        launch = {p.name: p.samples[-1][1:] for p in self.procs if p.samples}
        pw = browser_ctx = None
        try:
            if self.browsers:
                from playwright.sync_api import sync_playwright

                pw = sync_playwright().start()
                browser_ctx = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
                for _ in range(self.browsers):
                    page = browser_ctx.new_context().new_page()
                    page.on("pageerror", lambda e: self.page_errors.append(str(e)))
                    page.goto(viewer.ready["url"])
                    page.evaluate("tf.setAllTiles(true)")  # every camera streams, on screen or not
                    self.pages.append(page)
            af_sub = Subscriber(ctl.ready["pub"], ["af."], rcvhwm=100_000)  # no result event may be dropped
            with Client(ctl.ready["rep"], timeout=10) as client, af_sub as sub:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    cams = client.call("status")["cameras"]
                    if all(c["online"] and c["fps"] > 0 for c in cams):
                        break
                    time.sleep(0.3)
                t0 = time.monotonic()
                end = t0 + self.seconds
                warm_at = t0 + self.warmup
                warm_done = False
                next_af = t0
                next_sample = t0 + self.sample_every
                turn = 0
                while time.monotonic() < end:
                    now = time.monotonic()
                    if not warm_done and now >= warm_at:
                        self._sample_all(now - t0)
                        self.warm_index = {p.name: len(p.samples) - 1 for p in self.procs}
                        warm_done = True
                    if now >= next_sample:
                        self._sample_all(now - t0)
                        next_sample += self.sample_every
                    if now >= next_af:
                        cam = names[turn % len(names)]
                        turn += 1
                        try:
                            r = client.call("autofocus", {"camera": cam})
                            self.runs[int(r["run_id"])] = Run(cam, int(r["run_id"]), now)
                        except RemoteError as exc:  # busy (still running) or not ready: counted
                            self.refused[exc.code.value] = self.refused.get(exc.code.value, 0) + 1
                        next_af += self.af_every
                    self._follow(sub, min(next_af, next_sample, end))
                # let the runs in flight end (bounded)
                t_end = time.monotonic()
                self._sample_all(t_end - t0)
                ends = {p.name: p.samples[-1] for p in self.procs if p.samples}
                wait_until = t_end + RESULT_WAIT_S
                while any(r.result is None for r in self.runs.values()) and time.monotonic() < wait_until:
                    self._follow(sub, time.monotonic() + 1.0)
            frames = []
            for page in self.pages:
                with contextlib.suppress(Exception):
                    frames.append(
                        page.eval_on_selector_all(".tile", "ts => ts.map(t => Number(t.dataset.frames || 0))")
                    )
        finally:
            if browser_ctx is not None:
                with contextlib.suppress(Exception):
                    browser_ctx.close()
            if pw is not None:
                with contextlib.suppress(Exception):
                    pw.stop()
            alive_at_end = {p.name: p.proc.poll() is None for p in self.procs}
            exit_codes = self.stop_rig()
        return self._report(t_launch, launch, ends, frames, alive_at_end, exit_codes)

    # ------------------------------------------------------------------ report

    def _report(
        self,
        t_launch: float,
        launch: dict[str, tuple[int, int]],
        ends: dict[str, tuple[float, int, int]],
        frames: list[list[int]],
        alive: dict[str, bool],
        exit_codes: dict[str, int | None],
    ) -> dict[str, Any]:
        procs: dict[str, Any] = {}
        problems: list[str] = []
        for p in self.procs:
            start = p.samples[self.warm_index.get(p.name, 0)]  # after the warm-up
            end = ends.get(p.name, p.samples[-1])
            rss = [s[1] for s in p.samples]
            procs[p.name] = {
                "pid": p.proc.pid,
                "rss_kb_launch": launch.get(p.name, (0, 0))[0],
                "rss_kb_start": start[1],
                "rss_kb_end": end[1],
                "rss_kb_max": max(rss),
                "start_at_s": start[0],
                "fds_start": start[2],
                "fds_end": end[2],
                "timeline": p.samples,
            }
            if end[1] > start[1] * (1 + self.rss_slack) + RSS_ABS_SLACK_KB:
                problems.append(f"{p.name}: RSS grew {start[1]} -> {end[1]} kB")
            if end[2] > start[2] + FD_SLACK:
                problems.append(f"{p.name}: fds grew {start[2]} -> {end[2]}")
            if not alive.get(p.name):
                problems.append(f"{p.name}: died during the soak")
        reasons: dict[str, int] = {}
        ok = unended = 0
        for r in self.runs.values():
            if r.result is None:
                unended += 1
            elif r.result.get("ok"):
                ok += 1
            else:
                reason = str(r.result.get("reason") or "")
                reasons[reason or "<none>"] = reasons.get(reason or "<none>", 0) + 1
        if unended:
            problems.append(f"{unended} autofocus runs never ended")
        if reasons.get("<none>"):
            problems.append("a failed autofocus without a reason")
        if not self.runs:
            problems.append("no autofocus ran")
        durations = sorted(r.ended - r.started for r in self.runs.values() if r.ended is not None)
        report = {
            "seconds": self.seconds,
            "wall_s": round(time.monotonic() - t_launch, 1),
            "cameras": self.cameras,
            "browsers": self.browsers,
            "af_every_s": self.af_every,
            "autofocus": {
                "started": len(self.runs),
                "ok": ok,
                "failed": sum(reasons.values()),
                "failed_reasons": reasons,
                "unended": unended,
                "refused": self.refused,
                "seconds_p50": round(durations[len(durations) // 2], 2) if durations else None,
                "seconds_max": round(durations[-1], 2) if durations else None,
            },
            "browser_frames": frames,
            "page_errors": self.page_errors[:10],
            "processes": procs,
            "exit_codes": exit_codes,
            "problems": problems,
        }
        report["pass"] = not problems
        return report


def register(sub: Any) -> None:
    p = sub.add_parser(
        "soak",
        help="run a simulated rig under autofocus load with browsers; check memory, fds, every run ends",
        description="Start N simulated nodes, the controller, the viewer and headless Chromium pages; start "
        "an autofocus every few seconds; record RSS and open fds of every process and the end of every "
        "autofocus run. JSON report; exit status 0 on pass.",
    )
    p.add_argument("--minutes", type=float, default=10.0, help="how long to run (default 10)")
    p.add_argument("--seconds", type=float, help="how long to run, in seconds (overrides --minutes)")
    p.add_argument("--cameras", type=int, default=4, help="simulated nodes (default 4)")
    p.add_argument("--browsers", type=int, default=2, help="headless Chromium pages (default 2; 0 for none)")
    p.add_argument("--af-every", type=float, default=4.0, help="seconds between autofocus starts (default 4)")
    p.add_argument("--sample", type=float, default=10.0, help="seconds between RSS/fd samples (default 10)")
    p.add_argument(
        "--warmup", type=float, help="seconds before the 'start' sample (default: 10%% of the run, 5-60)"
    )
    p.add_argument("--fps", type=float, default=15.0, help="live-view rate of each node (default 15)")
    p.add_argument("--rss-slack", type=float, default=0.25, help="allowed RSS growth fraction (default 0.25)")
    p.add_argument("--json", type=Path, metavar="OUT", help="also write the report to OUT")
    p.set_defaults(func=_cmd)


def _cmd(args: Any) -> int:
    from tetherfocus.errors import UsageError

    seconds = args.seconds if args.seconds is not None else args.minutes * 60
    if seconds <= 0 or args.cameras < 1 or args.cameras > 16 or args.browsers < 0 or args.af_every <= 0:
        raise UsageError("--minutes/--seconds > 0, --cameras 1-16, --browsers >= 0, --af-every > 0")
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if args.browsers and not Path(chromium).exists():
        raise UsageError("no chromium found (apt-get install chromium), or pass --browsers 0")
    check_out(args.json)
    warmup = args.warmup if args.warmup is not None else min(60.0, max(5.0, seconds * 0.1))
    with tempfile.TemporaryDirectory(prefix="tetherfocus-soak-") as tmp:
        soak = Soak(
            seconds=seconds,
            cameras=args.cameras,
            browsers=args.browsers,
            af_every=args.af_every,
            sample_every=min(args.sample, max(1.0, seconds / 4)),
            warmup=min(warmup, seconds / 2),
            fps=args.fps,
            rss_slack=args.rss_slack,
            workdir=Path(tmp),
        )
        try:
            report = soak.run(chromium)
        except RuntimeError as exc:
            print(f"tetherfocus soak: {exc}", file=sys.stderr)
            return 1
    text = json.dumps(report, indent=2)
    print(text)
    if args.json is not None:
        write_text(args.json, text + "\n")
    return 0 if report["pass"] else 1
