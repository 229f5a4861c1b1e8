"""deploy/: the systemd unit passes systemd-analyze, the install script is idempotent, doctor."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.diagnostics import CommandRunner, check_clock, check_service

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
UNIT = DEPLOY / "walking-nas.service"
INSTALL = DEPLOY / "install.sh"
EXEC_START = "/opt/walking-nas/venv/bin/hub"


def unit_settings(text: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def verify_unit(text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """systemd-analyze verify on a copy whose ExecStart points at a real executable here."""
    assert shutil.which("systemd-analyze"), "systemd-analyze is missing: `make test` installs it"
    hub = tmp_path / "bin" / "hub"
    hub.parent.mkdir(exist_ok=True)
    hub.write_text("#!/bin/sh\nexit 0\n")
    hub.chmod(0o755)
    assert text.count(EXEC_START) == 1
    unit = tmp_path / "walking-nas.service"
    unit.write_text(text.replace(EXEC_START, str(hub)))
    return subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )


def test_the_unit_passes_systemd_analyze_without_a_single_warning(tmp_path: Path) -> None:
    result = verify_unit(UNIT.read_text(), tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


def test_the_unit_check_catches_a_mistake(tmp_path: Path) -> None:
    broken = UNIT.read_text().replace("ProtectSystem=strict", "ProtectSystm=strict")
    result = verify_unit(broken, tmp_path)
    assert "Unknown key" in result.stderr and "ProtectSystm" in result.stderr


def test_the_unit_is_hardened_and_limited() -> None:
    settings = unit_settings(UNIT.read_text())
    expected = {
        "User": "walking-nas",
        "ExecStart": f"{EXEC_START} serve",
        "Environment": "HUB_DATA_DIR=/var/lib/walking-nas",
        "Restart": "on-failure",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ReadWritePaths": "/var/lib/walking-nas",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
        "ProtectKernelTunables": "yes",
        "LockPersonality": "yes",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX AF_NETLINK",
        "StateDirectoryMode": "0700",
    }
    for key, value in expected.items():
        assert value in settings.get(key, []), key
    assert settings["ReadWritePaths"] == ["/var/lib/walking-nas"]  # nothing else is writable
    assert settings["MemoryMax"] and settings["CPUQuota"]


def make_root(tmp_path: Path) -> Path:
    """An empty system root with just enough /etc for useradd --prefix."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (root / "etc" / "group").write_text("root:x:0:\n")
    (root / "etc" / "shadow").write_text("root:*:19000:0:99999:7:::\n")
    (root / "etc" / "gshadow").write_text("root:*::\n")
    for name in ("shadow", "gshadow"):
        (root / "etc" / name).chmod(0o600)
    return root


def source_copy(tmp_path: Path) -> Path:
    """A copy of the checkout's installable parts, to change without touching the real one."""
    source = tmp_path / "source"
    checkout = DEPLOY.parent
    for part in ("hub", "memory", "devices", "adapters", "deploy"):
        if (checkout / part).is_dir():
            shutil.copytree(
                checkout / part, source / part, ignore=shutil.ignore_patterns("__pycache__")
            )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(checkout / name, source / name)
    return source


def install(root: Path, *args: str, script: Path = INSTALL) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(script), "--root", str(root), "--no-deps", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def tree_state(root: Path) -> dict[str, tuple[int, int, int, float, str]]:
    """Every path's mode, owner, group, mtime and content hash."""
    state = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        digest = ""
        if stat.S_ISREG(info.st_mode):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        state[str(path.relative_to(root))] = (
            info.st_mode,
            info.st_uid,
            info.st_gid,
            info.st_mtime,
            digest,
        )
    return state


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("useradd") is None, reason="needs root and useradd"
)
@pytest.mark.slow
def test_install_into_a_root_twice_upgrade_then_uninstall_keeping_the_data(
    tmp_path: Path,
) -> None:
    root = make_root(tmp_path)
    source = source_copy(tmp_path)
    script = source / "deploy" / "install.sh"
    dry = install(root, "--dry-run", script=script)
    assert dry.returncode == 0, dry.stderr
    assert "+ useradd" in dry.stdout and not (root / "opt").exists()

    first = install(root, script=script)
    assert first.returncode == 0, first.stderr
    [user] = [line for line in (root / "etc/passwd").read_text().splitlines() if "walking" in line]
    name, _, uid, gid, _, home, shell = user.split(":")
    assert (name, home, shell) == ("walking-nas", "/var/lib/walking-nas", "/usr/sbin/nologin")
    data = root / "var/lib/walking-nas"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert (data.stat().st_uid, data.stat().st_gid) == (int(uid), int(gid))
    unit = root / "etc/systemd/system/walking-nas.service"
    assert unit.read_text() == UNIT.read_text()
    assert os.access(root / "opt/walking-nas/venv/bin/hub", os.X_OK)
    assert "systemd is not running" in first.stdout

    before = tree_state(root)
    second = install(root, script=script)
    assert second.returncode == 0, second.stderr
    assert "nothing changed" in second.stdout
    assert tree_state(root) == before

    # An upgrade: a changed checkout is reinstalled; the data directory is left alone.
    (data / "memory.db").write_bytes(b"precious")
    with (source / "hub" / "__init__.py").open("a") as handle:
        handle.write("UPGRADED = True\n")
    upgraded = install(root, script=script)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "nothing changed" not in upgraded.stdout
    [installed] = (root / "opt/walking-nas/venv/lib").glob("python3*/site-packages/hub/__init__.py")
    assert "UPGRADED = True" in installed.read_text()
    assert (data / "memory.db").read_bytes() == b"precious"

    removed = install(root, "--uninstall", script=script)
    assert removed.returncode == 0, removed.stderr
    assert not unit.exists() and not (root / "opt/walking-nas").exists()
    assert (data / "memory.db").read_bytes() == b"precious"
    assert "Kept the data" in removed.stdout
    assert "walking-nas" in (root / "etc/passwd").read_text()

    purged = install(root, "--uninstall", "--purge-data", script=script)
    assert purged.returncode == 0, purged.stderr
    assert not data.exists()
    assert "walking-nas" not in (root / "etc/passwd").read_text()


def test_install_refuses_purge_without_uninstall(tmp_path: Path) -> None:
    result = install(make_root(tmp_path), "--purge-data")
    assert result.returncode == 2 and "--purge-data only goes with --uninstall" in result.stderr


def test_install_script_is_shellcheck_clean() -> None:
    assert shutil.which("shellcheck"), "shellcheck is missing: `make test` installs it"
    result = subprocess.run(["shellcheck", str(INSTALL)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def fake_systemctl(answers: dict[str, tuple[int, str]]) -> CommandRunner:
    def run(command: Sequence[str]) -> tuple[int, str] | None:
        return answers.get(" ".join(command))

    return run


def test_doctor_reports_the_service(tmp_path: Path) -> None:
    no_systemd = check_service(fake_systemctl({}), systemd_dir=tmp_path / "absent")
    assert no_systemd.status == "ok" and "not installed as a service" in no_systemd.detail
    running = {
        "systemctl is-enabled walking-nas": (0, "enabled"),
        "systemctl is-active walking-nas": (0, "active"),
    }
    assert check_service(fake_systemctl(running), systemd_dir=tmp_path).status == "ok"
    missing = {"systemctl is-enabled walking-nas": (1, "Failed: No such file or directory")}
    assert "not installed" in check_service(fake_systemctl(missing), tmp_path).detail
    failed = {**running, "systemctl is-active walking-nas": (3, "failed")}
    result = check_service(fake_systemctl(failed), systemd_dir=tmp_path)
    assert result.status == "fail" and "journalctl -u walking-nas" in result.fix


def test_doctor_checks_the_clock() -> None:
    def never(command: Sequence[str]) -> tuple[int, str] | None:
        return None

    def synced(command: Sequence[str]) -> tuple[int, str] | None:
        return (0, "yes")

    def drifting(command: Sequence[str]) -> tuple[int, str] | None:
        return (0, "no")

    past = check_clock(lambda: datetime(1970, 1, 1, tzinfo=UTC), never)
    assert past.status == "fail" and "1970" in past.detail
    now = datetime(2026, 5, 1, tzinfo=UTC)
    assert check_clock(lambda: now, never).status == "ok"
    assert "NTP synchronized" in check_clock(lambda: now, synced).detail
    assert check_clock(lambda: now, drifting).status == "warn"
