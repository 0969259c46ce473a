"""`python -m devhost`: serve the app's functions locally, the way `func start` would."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from devhost.admin import OnDemandRunner
from devhost.config import ConfigurationError, HostConfig, load_host_config
from devhost.functions import AppLoadError, HttpFunction, Invoker, TimerFunction, build_function_table, load_app
from devhost.processes import ProcessStartError, ensure_local_azurite, stop_process
from devhost.queues import QueuePoller, create_pollers
from devhost.sandbox import Sandbox, SandboxError, start_sandbox
from devhost.timers import (
    MemoryStatusStore,
    StatusStore,
    TimerRunner,
    create_status_store,
    create_timer_runners,
    stop_timers,
)
from devhost.web import (
    FunctionsWsgiApp,
    RedactingFormatter,
    create_http_server,
    default_thread_count,
    max_body_bytes,
)
from shared.local_settings import load_local_settings

log = logging.getLogger("devhost")

DEFAULT_PORT = 7071


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devhost",
        description="Serve the app's Azure Functions locally (HTTP, Storage queue and timer triggers).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=None, help="port (default: Host.LocalHttpPort of the settings, else 7071)"
    )
    parser.add_argument("--app", default="function_app:app", help="the FunctionApp, as module:attribute")
    parser.add_argument("--script-root", default=".", help="the app's folder, with host.json (default .)")
    parser.add_argument(
        "--settings",
        default="local.settings.json",
        help="local settings file, relative to the script root (default local.settings.json)",
    )
    parser.add_argument(
        "--azurite",
        action="store_true",
        help="start Azurite on 127.0.0.1:10000-10002 unless it already runs there (needs `npm ci`)",
    )
    parser.add_argument(
        "--sandbox",
        action="store_true",
        help="also serve an e-conomic stand-in on 127.0.0.1:7072 and an SMTP sink on 127.0.0.1:1025 (devhost.sandbox)",
    )
    parser.add_argument("--banner-file", default=None, help="a text file printed after the start-up banner")
    return parser.parse_args(argv)


def configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    # The Azure SDK logs every storage request (with headers) at INFO; keep its warnings only.
    logging.getLogger("azure").setLevel(logging.WARNING)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _ignore(signum: int, frame: FrameType | None) -> None:
    log.info("Already shutting down")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging()
    # SIGTERM (from run_devhost, docker, systemd) shuts down like Ctrl+C does.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, _raise_interrupt)

    script_root = Path(args.script_root).resolve()
    azurite: subprocess.Popen[bytes] | None = None
    invoker: Invoker | None = None
    pollers: list[QueuePoller] = []
    timers: list[TimerRunner] = []
    on_demand: OnDemandRunner | None = None
    sandbox: Sandbox | None = None
    try:
        settings = load_local_settings(script_root / args.settings, os.environ)
        if settings.found:
            for name in settings.skipped:
                log.info("Skipping '%s' from %s as it's already defined in the environment", name, args.settings)
        else:
            log.info("No %s in %s; using the environment only", args.settings, script_root)
        host_config = load_host_config(script_root / "host.json")
        if not host_config.found:
            log.warning("No host.json in %s; using the platform defaults", script_root)
        port = args.port or settings.http_port or DEFAULT_PORT

        if args.azurite:
            azurite = ensure_local_azurite(script_root / ".azurite")
        if args.sandbox:
            sandbox = start_sandbox(os.environ, script_root)

        app = load_app(args.app, script_root)
        table = build_function_table(app, route_prefix=host_config.route_prefix, environ=os.environ)
        invoker = Invoker()
        on_demand = OnDemandRunner(invoker, table.queues, table.timers)
        # Bind first (a port in use stops us before any message is taken or timer runs); connections
        # wait in the backlog until `run()` accepts them.
        server = create_http_server(
            FunctionsWsgiApp(table.http, invoker, on_demand),
            host=args.host,
            port=port,
            threads=default_thread_count(),
            body_limit=max_body_bytes(),
        )
        pollers = create_pollers(table.queues, host_config.queues, invoker, os.environ)
        for poller in pollers:
            poller.start()
        timers = create_timer_runners(table.timers, invoker, _status_store(table.timers, script_root))
        print_banner(
            args, table.http, pollers, timers, host_config, port, sandbox.banner_lines(os.environ) if sandbox else ()
        )
        for timer in timers:
            timer.start()
        server.run()  # returns on SIGINT/SIGTERM (waitress catches the KeyboardInterrupt)
    except KeyboardInterrupt:
        pass
    except AppLoadError as exc:
        # The traceback of the import error is what the developer needs.
        log.error("%s", exc, exc_info=exc.__cause__ is not None)
        return 1
    except (ConfigurationError, ProcessStartError, SandboxError) as exc:
        log.error("%s", exc)
        return 1
    except OSError as exc:
        log.error("Cannot start: %s", exc)
        return 1
    finally:
        signal.signal(signal.SIGTERM, _ignore)
        signal.signal(signal.SIGINT, _ignore)
        log.info("Stopping")
        # Timers and admin runs first: nothing new starts after this, and what runs may finish (bounded).
        stop_timers(timers)
        if on_demand is not None:
            on_demand.close()
        for poller in pollers:
            poller.stop()
        if invoker is not None:
            invoker.close()
        if sandbox is not None:
            sandbox.stop()
        if azurite is not None:
            stop_process(azurite)
    log.info("Stopped")
    return 0


def _status_store(timers: Sequence[TimerFunction], script_root: Path) -> StatusStore:
    """Where monitored timers record their schedule status (see `devhost.timers`)."""
    if any(timer.use_monitor for timer in timers):
        return create_status_store(os.environ, script_root)
    return MemoryStatusStore()


def print_banner(
    args: argparse.Namespace,
    http_functions: Sequence[HttpFunction],
    pollers: Sequence[QueuePoller],
    timers: Sequence[TimerRunner],
    host_config: HostConfig,
    port: int,
    sandbox_lines: Sequence[str] = (),
) -> None:
    base_url = f"http://{args.host}:{port}"
    lines = [f"devhost: serving {args.app} on {base_url}", "", "Functions:", ""]
    for function in sorted(http_functions, key=lambda f: f.target.name):
        methods = ",".join(sorted(function.methods)) if function.methods else "all methods"
        lines.append(f"    {function.target.name}: [{methods}] {base_url}{function.route.text}")
    for queue_function in sorted((p.function for p in pollers), key=lambda f: f.target.name):
        lines.append(
            f"    {queue_function.target.name}: queueTrigger on '{queue_function.queue_name}'"
            f" ({queue_function.connection}, messageEncoding {host_config.queues.message_encoding})"
        )
    for timer in sorted(timers, key=lambda t: t.name):
        schedule = timer.function.schedule
        lines.append(
            f"    {timer.name}: timerTrigger '{schedule.text}' ({schedule.time_zone}),"
            f" next {timer.next_occurrence().isoformat()}" + (", runOnStartup" if timer.function.run_on_startup else "")
        )
    if not http_functions and not pollers and not timers:
        lines.append("    (none)")
    elif pollers or timers:
        lines += ["", f"Run a queue or timer function now: POST {base_url}/admin/functions/<name> " + '{"input": ""}']
    if sandbox_lines:
        lines += ["", *sandbox_lines]
    if args.banner_file:
        try:
            extra = Path(args.banner_file).read_text(encoding="utf-8")
        except OSError as exc:
            log.warning("Cannot read --banner-file: %s", exc)
        else:
            lines += ["", *extra.rstrip("\n").splitlines()]
    print("\n".join(lines) + "\n", flush=True)
