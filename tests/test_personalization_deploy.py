"""deploy/: the optional nightly personalization timer and its oneshot service pass
systemd-analyze, run `hub personalize run` as the hub's user, and install.sh lays them out."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.test_deploy import DEPLOY, EXEC_START, INSTALL, make_root, unit_settings

SERVICE = DEPLOY / "walking-nas-personalize.service"
TIMER = DEPLOY / "walking-nas-personalize.timer"


def test_timer_and_service_pass_systemd_analyze_without_a_warning(tmp_path: Path) -> None:
    assert shutil.which("systemd-analyze"), "systemd-analyze is missing: `make test` installs it"
    hub = tmp_path / "bin" / "hub"
    hub.parent.mkdir()
    hub.write_text("#!/bin/sh\nexit 0\n")
    hub.chmod(0o755)
    for unit in (SERVICE, TIMER, DEPLOY / "walking-nas.service"):
        (tmp_path / unit.name).write_text(unit.read_text().replace(EXEC_START, str(hub)))
    result = subprocess.run(
        [
            "systemd-analyze",
            "verify",
            str(tmp_path / SERVICE.name),
            str(tmp_path / TIMER.name),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


def test_the_service_runs_personalize_as_the_hubs_user_and_the_timer_at_three() -> None:
    service = unit_settings(SERVICE.read_text())
    assert service["ExecStart"] == [f"{EXEC_START} personalize run"]
    assert service["Type"] == ["oneshot"] and service["User"] == ["walking-nas"]
    assert service["ProtectSystem"] == ["strict"] and service["NoNewPrivileges"] == ["yes"]
    assert service["ReadWritePaths"] == ["/var/lib/walking-nas"]
    timer = unit_settings(TIMER.read_text())
    assert timer["OnCalendar"] == ["*-*-* 03:00:00"] and timer["Persistent"] == ["true"]


def test_install_lays_out_the_timer_units(tmp_path: Path) -> None:
    result = subprocess.run(
        ["bash", str(INSTALL), "--root", str(make_root(tmp_path)), "--no-deps", "--dry-run"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    for unit in (SERVICE.name, TIMER.name):
        assert f"Installing /etc/systemd/system/{unit}" in result.stdout
