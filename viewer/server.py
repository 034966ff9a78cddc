"""Running the viewer: :func:`run_viewer` serves the app until stopped (SIGINT/SIGTERM, or
the caller's ``stop`` event), then shuts it down cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

from aiohttp import web

from viewer.app import make_app
from viewer.config import ViewerConfig

log = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT_S = 3.0


def _url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}/"


async def run_viewer(
    config: ViewerConfig,
    *,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[str], None] | None = None,
    handle_signals: bool = True,
) -> None:
    """Serve the viewer on ``config.host:config.port`` until ``stop`` is set or a signal.

    ``on_ready(url)`` is called once the socket listens (with the real port when
    ``config.port`` is 0).  Raises OSError when the address cannot be bound.
    """
    stop = stop or asyncio.Event()
    runner = web.AppRunner(make_app(config), access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    await runner.setup()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    try:
        site = web.TCPSite(runner, config.host, config.port)
        await site.start()
        port = config.port
        for addr in runner.addresses:
            if isinstance(addr, tuple) and len(addr) >= 2:
                port = int(addr[1])
                break
        if handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.add_signal_handler(sig, stop.set)
                    installed.append(sig)
        url = _url(config.host, port)
        log.info("viewer serving %s", url)
        if on_ready is not None:
            on_ready(url)
        await stop.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await runner.cleanup()
