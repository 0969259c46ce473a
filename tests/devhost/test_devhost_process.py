"""The host as a process: start-up failures, skipped functions, clean shutdown."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from devhost.processes import ProcessStartError, run_devhost
from tests.support.devhost_helpers import make_script_root


def test_sigterm_stops_the_host_cleanly(tmp_path: Path) -> None:
    script_root = make_script_root(tmp_path / "app", message_encoding="base64")
    # No SAMPLE_QUEUE nor SAMPLE_TICK_SCHEDULE: the queue function and the every-second timers cannot be
    # bound and are skipped, as the platform would.
    with run_devhost(env={}, app="sample_app:app", script_root=script_root) as host:
        assert requests.get(f"{host.base_url}/ping", timeout=10).text == "pong"
    assert host.returncode == 0
    log = host.log_text()
    assert "Function record_delivery is not run: app setting SAMPLE_QUEUE is not set" in log
    assert "Function tick is not run: app setting SAMPLE_TICK_SCHEDULE is not set" in log
    assert log.rstrip().endswith("Stopped")


def test_an_app_that_cannot_be_imported_fails_with_its_log(tmp_path: Path) -> None:
    with pytest.raises(ProcessStartError, match="cannot import 'no_such_module'"):  # noqa: SIM117
        with run_devhost(env={}, app="no_such_module:app", script_root=tmp_path):
            pass
