"""`hub models suggest` and the doctor's hint, from fake machine facts (fast)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from hub.cli.main import app
from hub.diagnostics import check_model_room
from hub.models.suggest import GB, MachineFacts, best_fit, read_machine_facts, suggest
from hub.settings import Settings

AVX2 = frozenset({"avx", "avx2", "fma", "f16c"})


def verdicts(facts: MachineFacts) -> dict[str, tuple[str, int]]:
    return {row.model.name: (row.verdict, round(row.tokens_per_s)) for row in suggest(facts)}


def test_a_two_core_mini_pc_runs_small_models_well_and_7b_too_slowly() -> None:
    found = verdicts(MachineFacts(8 * GB, 2, AVX2, arm=False))
    assert found["Qwen2.5 1.5B Instruct"] == ("runs well", 12)
    assert found["Llama 3.2 3B Instruct"] == ("usable", 6)
    assert found["Qwen2.5 7B Instruct"] == ("too slow", 3)
    assert found["Qwen2.5 14B Instruct"][0] == "too big"  # 10.4 GB needed, 6.5 GB to spare
    best = best_fit(MachineFacts(8 * GB, 2, AVX2, arm=False))
    assert best is not None and best.model.name == "Qwen2.5 1.5B Instruct"


def test_more_cores_read_faster_until_the_memory_bus_limits_them() -> None:
    eight = verdicts(MachineFacts(32 * GB, 8, AVX2, arm=False))
    sixteen = verdicts(MachineFacts(32 * GB, 16, AVX2, arm=False))
    assert eight["Llama 3.2 3B Instruct"] == ("runs well", 12)
    assert eight["Qwen2.5 7B Instruct"] == ("usable", 5)
    assert sixteen == eight  # 25 GB/s either way
    rows = suggest(MachineFacts(32 * GB, 8, AVX2, arm=False))
    assert [row.verdict for row in rows][:2] == ["runs well", "runs well"]
    assert rows[0].model.file_bytes > rows[1].model.file_bytes  # the largest good one first


def test_little_memory_or_no_avx2_narrow_the_choice() -> None:
    small = verdicts(MachineFacts(3 * GB, 4, AVX2, arm=False))
    assert small["Llama 3.2 3B Instruct"][0] == "too big"
    assert small["Llama 3.2 1B Instruct"][0] == "runs well"
    old = verdicts(MachineFacts(16 * GB, 2, frozenset({"sse4_2"}), arm=False))
    assert old["Llama 3.2 1B Instruct"] == ("usable", 5)  # a third of the speed
    arm = verdicts(MachineFacts(8 * GB, 4, frozenset({"asimd", "fp"}), arm=True))
    assert arm["Llama 3.2 3B Instruct"] == ("runs well", 12)


def test_machine_facts_are_read_from_proc(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 16000000 kB\nMemFree: 1000 kB\nMemAvailable: 12000000 kB\n")
    x86 = tmp_path / "cpuinfo"
    x86.write_text("processor\t: 0\nflags\t\t: fpu sse avx avx2 avx512f\n")
    facts = read_machine_facts(meminfo, x86)
    assert facts.memory_bytes == 12_000_000 * 1024
    assert (facts.vector_unit, facts.slow_cpu, facts.arm) == ("AVX-512", False, False)
    pi = tmp_path / "cpuinfo-arm"
    pi.write_text("processor\t: 0\nFeatures\t: fp asimd evtstrm crc32\n")
    arm = read_machine_facts(meminfo, pi)
    assert (arm.vector_unit, arm.slow_cpu, arm.arm) == ("NEON", False, True)


def test_doctor_mentions_a_far_larger_model_only_when_the_box_has_room(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    roomy = check_model_room(settings, MachineFacts(16 * GB, 8, AVX2, arm=False))
    assert roomy.status == "ok"
    assert "this box could run Phi-3.5 mini instruct (2.4 GB, about 10 tokens/s)" in roomy.detail
    assert "hub models suggest" in roomy.fix
    tight = check_model_room(settings, MachineFacts(int(1.6 * GB), 1, frozenset(), arm=False))
    assert tight.detail == "smollm2-135m-instruct suits this box" and tight.fix == ""


def test_cli_suggest_prints_the_table_and_json() -> None:
    shown = CliRunner().invoke(app, ["models", "suggest"])
    assert shown.exit_code == 0, shown.output
    assert "decoding reads about" in shown.output and "table of" in shown.output
    data = json.loads(CliRunner().invoke(app, ["models", "suggest", "--json"]).stdout)
    assert data["machine"]["cores"] >= 1
    first = data["models"][0]
    assert {"repo", "pull", "licence", "quality", "source", "verdict"} <= set(first)
