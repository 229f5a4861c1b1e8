"""The model's process on CPUs of its own, the rest of the hub on the others."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from hub.cli.main import app
from hub.diagnostics import check_cpu_placement
from hub.engine.cpu_placement import (
    CpuPlacementError,
    available_cpus,
    format_cpu_list,
    parse_cpu_list,
    plan_placement,
)
from hub.settings import load_settings
from tests.hub_process import HubProcess, start_hub

TWO = frozenset({0, 1})
FOUR = frozenset({0, 1, 2, 3})


def test_cpu_lists_read_and_write_like_proc() -> None:
    assert parse_cpu_list("0,2-3") == {0, 2, 3}
    assert parse_cpu_list(" 1 ") == {1}
    assert format_cpu_list(frozenset({0, 2, 3, 5})) == "0,2-3,5"
    assert format_cpu_list(frozenset()) == "none"


@pytest.mark.parametrize("text", ["", "one", "1-", "-1", "3-1", "1,,2", "1.5"])
def test_a_cpu_list_that_is_not_one_says_how_to_write_it(text: str) -> None:
    with pytest.raises(CpuPlacementError, match=r"like 1 or 2-3|backwards"):
        parse_cpu_list(text)


def test_auto_gives_the_model_the_last_cpus_when_threads_leave_some_over() -> None:
    one = plan_placement("auto", 1, TWO)
    assert (one.model, one.hub, one.split) == ({1}, {0}, True)
    three = plan_placement("AUTO", 3, FOUR)
    assert (three.model, three.hub) == ({1, 2, 3}, {0})
    assert three.describe() == "the model runs on CPU 1-3, the rest of the hub on CPU 0"


def test_auto_shares_every_cpu_when_the_model_wants_them_all() -> None:
    for threads in (2, 8):
        shared = plan_placement("auto", threads, TWO)
        assert not shared.split and shared.model == shared.hub == TWO
    assert "share CPUs 0-1" in plan_placement("off", 1, TWO).describe()


def test_a_list_places_the_model_there_and_refuses_cpus_the_hub_may_not_use() -> None:
    chosen = plan_placement("0", 1, TWO)
    assert (chosen.model, chosen.hub) == ({0}, {1})
    assert not plan_placement("0-1", 1, TWO).split
    with pytest.raises(CpuPlacementError, match="names CPU 5-6, but the hub may only use CPU 0-1"):
        plan_placement("1,5-6", 1, TWO)


def test_the_setting_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_MODEL_CPUS", "2-3")
    assert load_settings().model_cpus == "2-3"


def test_serve_refuses_cpus_the_machine_does_not_have(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["serve", "--data-dir", str(tmp_path)], env={"HUB_MODEL_CPUS": "4096"}
    )
    assert result.exit_code == 2
    assert "names CPU 4096" in " ".join(result.output.split())


def test_doctor_says_where_the_model_runs_and_refuses_a_bad_list(tmp_path: Path) -> None:
    split = check_cpu_placement(load_settings(data_dir=tmp_path, threads=1), TWO)
    assert (split.status, split.detail) == (
        "ok",
        "the model runs on CPU 1, the rest of the hub on CPU 0",
    )
    shared = check_cpu_placement(load_settings(data_dir=tmp_path, threads=2), TWO)
    assert shared.status == "ok" and "threads = 1" in shared.fix
    bad = check_cpu_placement(load_settings(data_dir=tmp_path, model_cpus="9"), TWO)
    assert bad.status == "fail" and "names CPU 9" in bad.detail


def affinity(pid: int) -> dict[int, frozenset[int]]:
    """Every thread of a process and the CPUs it may run on."""
    threads = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        for line in Path(f"/proc/{pid}/task/{tid}/status").read_text().splitlines():
            if line.startswith("Cpus_allowed_list:"):
                threads[int(tid)] = parse_cpu_list(line.split(":", 1)[1])
    return threads


def model_child(hub_pid: int) -> int:
    """The hub's child process that serves the model."""
    for task in Path(f"/proc/{hub_pid}/task").iterdir():  # each thread lists its own children
        for child in (task / "children").read_text().split():
            if b"multiprocessing.spawn" in Path(f"/proc/{child}/cmdline").read_bytes():
                return int(child)
    raise AssertionError("the hub has no model process")


@pytest.fixture(scope="module")
def one_thread_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    env = {"HUB_THREADS": "1", "HUB_MEMORY_ENABLED": "false", "HUB_VOICE_ENABLED": "false"}
    hub = start_hub(tmp_path_factory.mktemp("cpus") / "data", env=env)
    yield hub
    hub.stop()


def test_a_one_thread_model_gets_a_cpu_of_its_own(one_thread_hub: HubProcess) -> None:
    answer = httpx.post(
        f"{one_thread_hub.base_url}/v1/chat/completions",
        headers=one_thread_hub.headers(),
        json={
            "model": "smollm2-135m-instruct",
            "messages": [{"role": "user", "content": "Say hello."}],
            "max_tokens": 8,
        },
        timeout=120,
    )
    assert answer.status_code == 200 and answer.json()["choices"][0]["message"]["content"]
    cpus = available_cpus()
    model_threads = affinity(model_child(one_thread_hub.process.pid))
    hub_threads = affinity(one_thread_hub.process.pid)
    if len(cpus) == 1:  # nothing to split: both may run anywhere
        assert set(model_threads.values()) == set(hub_threads.values()) == {cpus}
        return
    last = frozenset({max(cpus)})
    # llama.cpp's own threads included: they start after the child moved itself.
    assert set(model_threads.values()) == {last}
    assert set(hub_threads.values()) == {cpus - last}  # uvicorn, workers, everything
    expected = f"CPUs: the model runs on CPU {max(cpus)}, the rest of the hub on CPU"
    assert expected in one_thread_hub.log()
