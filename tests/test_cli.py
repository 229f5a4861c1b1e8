"""The `hub` command line, as a person types it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli.main import app
from tests.hub_process import HubProcess, free_port

runner = CliRunner()


def hub_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_token_is_made_once_and_kept_private(tmp_path: Path) -> None:
    first = runner.invoke(app, ["token", "--data-dir", str(tmp_path)])
    second = runner.invoke(app, ["token", "--data-dir", str(tmp_path)])
    assert first.exit_code == 0
    assert first.output == second.output
    assert len(first.output.strip()) > 30
    assert (tmp_path / "owner_token").stat().st_mode & 0o777 == 0o600
    assert tmp_path.stat().st_mode & 0o777 == 0o700


def test_models_list_shows_metadata(tmp_path: Path) -> None:
    result = runner.invoke(app, ["models", "list", "--json", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    smol = rows["smollm2-135m-instruct"]
    assert smol["active"] is True
    assert (smol["architecture"], smol["quantization"], smol["context_length"]) == (
        "llama",
        "Q4_1",
        8192,
    )
    assert smol["has_chat_template"] is True
    assert smol["file_size"] > 50_000_000
    table = runner.invoke(app, ["models", "list", "--data-dir", str(tmp_path)])
    assert "gemma3" in table.output and "Q4_K_M" in table.output


def test_models_add_and_use(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    bad = tmp_path / "bad.gguf"
    bad.write_text("not a model")
    refused = runner.invoke(app, ["models", "add", str(bad), "--data-dir", data])
    assert refused.exit_code == 2
    assert "not a GGUF model" in " ".join(refused.output.split())
    unknown = runner.invoke(app, ["models", "use", "nope", "--data-dir", data])
    assert unknown.exit_code == 2 and "known models" in " ".join(unknown.output.split())
    chosen = runner.invoke(
        app,
        ["models", "use", "gemma3-270m", "--data-dir", data],
        env={"HUB_PORT": str(free_port())},
    )
    assert chosen.exit_code == 0, chosen.output
    listed = runner.invoke(app, ["models", "list", "--json", "--data-dir", data])
    assert [r["name"] for r in json.loads(listed.stdout) if r["active"]] == ["gemma3-270m"]


def test_doctor_passes_on_a_fresh_data_dir(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["doctor", "--data-dir", str(tmp_path)], env={"HUB_PORT": str(free_port())}
    )
    assert result.exit_code == 0, result.output
    assert "All good" in result.output


def test_doctor_says_how_to_fix_loose_permissions(tmp_path: Path) -> None:
    runner.invoke(app, ["token", "--data-dir", str(tmp_path)])
    tmp_path.chmod(0o755)
    result = runner.invoke(
        app, ["doctor", "--data-dir", str(tmp_path)], env={"HUB_PORT": str(free_port())}
    )
    assert result.exit_code == 1
    assert "chmod 700" in result.output


def test_serve_refuses_the_network_without_a_token(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path)],
        env={"HUB_REQUIRE_TOKEN": "false"},
    )
    assert result.exit_code == 2
    assert "refusing" in result.output


def test_chat_talks_to_the_running_hub(hub: HubProcess) -> None:
    # The hub listens on a port of its own: chat finds it in the data directory, as it recorded it.
    result = hub_cli(
        "chat",
        "Say hello.",
        "--max-tokens",
        "12",
        "--temperature",
        "0",
        "--data-dir",
        str(hub.data_dir),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    assert "loading" not in result.stderr.lower()


@pytest.mark.slow
def test_chat_loads_the_model_itself_when_no_hub_runs(tmp_path: Path) -> None:
    result = hub_cli(
        "chat",
        "Say hello.",
        "--max-tokens",
        "12",
        "--temperature",
        "0",
        "--data-dir",
        str(tmp_path),
        env={"HUB_PORT": str(free_port())},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    assert "No hub is running" in result.stderr
