"""Starting Azurite and the local Functions host as child processes: the one place that knows how.

For tests and benchmarks::

    with run_azurite() as azurite, run_devhost(env={"AzureWebJobsStorage": azurite.connection_string}) as host:
        requests.get(f"{host.base_url}/health")

`python -m devhost --azurite` uses `ensure_local_azurite` from here too.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

log = logging.getLogger("devhost")

REPO_ROOT = Path(__file__).resolve().parent.parent
AZURITE_BIN = REPO_ROOT / "node_modules" / ".bin" / "azurite"
LOCALHOST = "127.0.0.1"
AZURITE_DEFAULT_PORTS = (10000, 10001, 10002)
"""Blob, queue and table: Azurite's defaults, which local.settings.json points at."""

# Azurite's well-known development account (public, documented by Microsoft; not a secret).
DEV_ACCOUNT = "devstoreaccount1"
DEV_ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

STARTUP_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 15.0


class ProcessStartError(RuntimeError):
    """A child process exited or did not open its port in time. The message carries its output."""


# --- ports -----------------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        port: int = sock.getsockname()[1]
        return port


def port_accepts(port: int, host: str = LOCALHOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for_ports(
    ports: Sequence[int],
    process: subprocess.Popen[bytes],
    *,
    what: str,
    output: Path | None = None,
    timeout: float = STARTUP_TIMEOUT_SECONDS,
) -> None:
    """Wait until every port accepts connections; fail with the process's output if it exits first or
    `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    pending = list(ports)
    while pending:
        if process.poll() is not None:
            raise ProcessStartError(f"{what} exited with code {process.returncode}{_tail(output)}")
        if time.monotonic() > deadline:
            raise ProcessStartError(f"{what} did not open port(s) {pending} within {timeout:.0f}s{_tail(output)}")
        pending = [port for port in pending if not port_accepts(port)]
        if pending:
            time.sleep(0.05)


def stop_process(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """SIGTERM, wait, and SIGKILL if it does not go."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


def _tail(output: Path | None, limit: int = 8000) -> str:
    if output is None or not output.exists():
        return ""
    text = output.read_text(encoding="utf-8", errors="replace")
    return "; its output:\n" + text[-limit:]


# --- Azurite ----------------------------------------------------------------------------------------------


def azurite_connection_string(blob_port: int, queue_port: int, table_port: int) -> str:
    base = f"http://{LOCALHOST}"
    return (
        f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_ACCOUNT_KEY};"
        f"BlobEndpoint={base}:{blob_port}/{DEV_ACCOUNT};"
        f"QueueEndpoint={base}:{queue_port}/{DEV_ACCOUNT};"
        f"TableEndpoint={base}:{table_port}/{DEV_ACCOUNT};"
    )


def azurite_command(*, blob_port: int, queue_port: int, table_port: int, location: Path, in_memory: bool) -> list[str]:
    if not AZURITE_BIN.exists():
        raise ProcessStartError(f"{AZURITE_BIN.relative_to(REPO_ROOT)} is missing: run `npm ci` in {REPO_ROOT}")
    return [
        str(AZURITE_BIN),
        "--silent",
        "--disableTelemetry",
        # Required: the current Azure SDKs send a newer API version than Azurite 3.37 accepts.
        "--skipApiVersionCheck",
        # Azurite refuses --location together with --inMemoryPersistence; it runs in `location` anyway.
        *(["--inMemoryPersistence"] if in_memory else ["--location", str(location)]),
        "--blobHost",
        LOCALHOST,
        "--blobPort",
        str(blob_port),
        "--queueHost",
        LOCALHOST,
        "--queuePort",
        str(queue_port),
        "--tableHost",
        LOCALHOST,
        "--tablePort",
        str(table_port),
    ]


def start_azurite(
    *,
    blob_port: int,
    queue_port: int,
    table_port: int,
    location: Path,
    in_memory: bool,
    output: IO[bytes] | None = None,
) -> subprocess.Popen[bytes]:
    command = azurite_command(
        blob_port=blob_port, queue_port=queue_port, table_port=table_port, location=location, in_memory=in_memory
    )
    location.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        command,
        cwd=location,
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
    )


@dataclass(frozen=True)
class Azurite:
    connection_string: str
    blob_port: int
    queue_port: int
    table_port: int
    pid: int


@contextmanager
def run_azurite(*, in_memory: bool = True, location: Path | None = None) -> Iterator[Azurite]:
    """Azurite on three free ports; stopped (and waited for) on exit.

    `in_memory` keeps everything in memory (nothing on disk); otherwise data goes to `location`
    (a temporary folder, removed on exit, when not given).
    """
    if in_memory and location is not None:
        raise ValueError("Azurite keeps nothing on disk with in_memory=True: pass in_memory=False with location")
    ports = [free_port(), free_port(), free_port()]
    while len(set(ports)) < 3:
        ports = [free_port(), free_port(), free_port()]
    blob_port, queue_port, table_port = ports
    workdir = Path(tempfile.mkdtemp(prefix="azurite-"))
    output_path = workdir / "azurite.log"
    try:
        with output_path.open("wb") as output:
            process = start_azurite(
                blob_port=blob_port,
                queue_port=queue_port,
                table_port=table_port,
                location=location or workdir / "data",
                in_memory=in_memory,
                output=output,
            )
            try:
                wait_for_ports(ports, process, what="Azurite", output=output_path)
                yield Azurite(
                    connection_string=azurite_connection_string(blob_port, queue_port, table_port),
                    blob_port=blob_port,
                    queue_port=queue_port,
                    table_port=table_port,
                    pid=process.pid,
                )
            finally:
                stop_process(process)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def ensure_local_azurite(location: Path) -> subprocess.Popen[bytes] | None:
    """For `python -m devhost --azurite`: Azurite on its default ports. If all three ports already
    accept connections, assume a running Azurite and reuse it (returns None); otherwise start one as a
    child process (the caller stops it) and wait until it is ready."""
    listening = [port_accepts(port) for port in AZURITE_DEFAULT_PORTS]
    if all(listening):
        log.info("Azurite already listens on %s:10000-10002; using it", LOCALHOST)
        return None
    if any(listening):
        busy = [port for port, used in zip(AZURITE_DEFAULT_PORTS, listening, strict=True) if used]
        raise ProcessStartError(
            f"port(s) {busy} are in use but not all of 10000-10002: stop what holds them, "
            "or start Azurite yourself (npm run azurite)"
        )
    blob_port, queue_port, table_port = AZURITE_DEFAULT_PORTS
    process = start_azurite(
        blob_port=blob_port, queue_port=queue_port, table_port=table_port, location=location, in_memory=False
    )
    try:
        wait_for_ports(AZURITE_DEFAULT_PORTS, process, what="Azurite")
    except BaseException:
        stop_process(process)
        raise
    log.info("Started Azurite (pid %d), data in %s", process.pid, location)
    return process


# --- the local Functions host -------------------------------------------------------------------------------


@dataclass
class DevHost:
    base_url: str
    port: int
    pid: int
    log_path: Path
    returncode: int | None = None
    """Set once the host has stopped (0 after a clean shutdown)."""
    _final_log: str | None = field(default=None, repr=False)

    def log_text(self) -> str:
        """Everything the host printed so far (stdout and stderr)."""
        if self._final_log is not None:
            return self._final_log
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for_log(self, text: str, timeout: float = 5.0) -> str:
        """The log once it contains `text` (or as it is when `timeout` runs out). Most access-log
        lines are written before the response leaves; waitress's own error answers (413) log after."""
        deadline = time.monotonic() + timeout
        log = self.log_text()
        while text not in log and time.monotonic() < deadline:
            time.sleep(0.02)
            log = self.log_text()
        return log


@contextmanager
def run_devhost(
    *,
    env: Mapping[str, str],
    app: str = "function_app:app",
    script_root: Path = REPO_ROOT,
    port: int | None = None,
    extra_args: Sequence[str] = (),
) -> Iterator[DevHost]:
    """`python -m devhost` (this interpreter) on a free port, with `os.environ | env`, run from
    `script_root`; its stdout and stderr go to a temporary file read by `.log_text()`. Yields once the
    port accepts connections (the app is imported and indexed by then); stopped with SIGTERM on exit."""
    port = port or free_port()
    child_env = {**os.environ, **env}
    child_env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT), *([child_env["PYTHONPATH"]] if child_env.get("PYTHONPATH") else [])]
    )
    child_env["PYTHONUNBUFFERED"] = "1"
    command = [
        sys.executable,
        "-m",
        "devhost",
        "--host",
        LOCALHOST,
        "--port",
        str(port),
        "--app",
        app,
        "--script-root",
        str(script_root),
        *extra_args,
    ]
    handle, name = tempfile.mkstemp(prefix="devhost-", suffix=".log")
    log_path = Path(name)
    try:
        with os.fdopen(handle, "wb") as output:
            process = subprocess.Popen(
                command,
                cwd=script_root,
                env=child_env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
            host = DevHost(base_url=f"http://{LOCALHOST}:{port}", port=port, pid=process.pid, log_path=log_path)
            try:
                wait_for_ports([port], process, what="devhost", output=log_path)
                yield host
            finally:
                stop_process(process)
                host.returncode = process.returncode
                host._final_log = log_path.read_text(encoding="utf-8", errors="replace")
    finally:
        log_path.unlink(missing_ok=True)
