"""`hub models pull`: GGUF files fetched from a model hub (a local server that answers as the
Hugging Face Hub does), resumed, verified, refused when the disk would fill, then in the catalog."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli.main import app
from hub.disk_space import DiskFullError
from hub.models.catalog import ModelCatalog
from hub.models.pull import (
    ChecksumMismatchError,
    HubUnreachableError,
    ModelHubAccess,
    ModelPuller,
    NotDownloadedError,
    PullProgress,
    RepositoryUnknownError,
)
from hub.models.pull_spec import PullSpecError, parse_pull_source
from tests.model_hub_server import HostedFile, ModelHubServer, write_tiny_gguf

REPO = "acme/Tiny-Chat-GGUF"
SPLIT_REPO = "acme/Big-Chat-GGUF"


@pytest.fixture(autouse=True)
def huggingface_hub_online(monkeypatch: pytest.MonkeyPatch) -> None:
    """An embedder loaded earlier in this test process switched huggingface_hub offline (as it
    does in the hub's process); these tests pull in-process, as the CLI does, so turn it back."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hosted")
    made = {
        "tiny-chat-Q4_K_M.gguf": write_tiny_gguf(folder / "q4.gguf", "Tiny Chat", 12 << 20),
        "tiny-chat-Q8_0.gguf": write_tiny_gguf(folder / "q8.gguf", "Tiny Chat Q8", 3 << 20),
        "mmproj-tiny-f16.gguf": write_tiny_gguf(folder / "mmproj.gguf", "projector", 1024),
    }
    for index in (1, 2, 3):
        made[f"Q4_K_M/big-chat-Q4_K_M-0000{index}-of-00003.gguf"] = write_tiny_gguf(
            folder / f"part{index}.gguf", f"Big Chat part {index}", 1 << 20
        )
    readme = folder / "README.md"
    readme.write_text("# Tiny Chat\n")
    made["README.md"] = readme
    return made


@pytest.fixture
def model_hub(files: dict[str, Path]) -> Iterator[ModelHubServer]:
    server = ModelHubServer()
    server.repos[REPO] = {
        name: HostedFile(path, lfs=name.endswith(".gguf"))
        for name, path in files.items()
        if "/" not in name
    }
    server.repos[SPLIT_REPO] = {
        name: HostedFile(path) for name, path in files.items() if name.startswith("Q4_K_M/")
    }
    server.start()
    yield server
    server.stop()


def puller_for(
    data_dir: Path, server: ModelHubServer, free: int | None = None, offline: bool = False
) -> ModelPuller:
    access = ModelHubAccess(server.url, offline, data_dir / "hf-cache")
    if free is None:
        return ModelPuller(ModelCatalog(data_dir), access, reserve_bytes=0)
    return ModelPuller(ModelCatalog(data_dir), access, 0, free_bytes=lambda _: free)


def gets(server: ModelHubServer, name: str) -> list[str | None]:
    """The Range header of every download of ``name`` (None: from the start)."""
    return [rng for method, path, rng in server.requests if method == "GET" and path.endswith(name)]


def test_pull_picks_the_quant_verifies_and_adds_it(
    tmp_path: Path, model_hub: ModelHubServer, files: dict[str, Path]
) -> None:
    seen: list[PullProgress] = []
    puller = puller_for(tmp_path, model_hub)
    pulled = puller.pull(parse_pull_source(f"{REPO}:q8_0"), None, seen.append)
    assert pulled.entry.name == "tiny-chat-q8_0"
    assert pulled.path.read_bytes() == files["tiny-chat-Q8_0.gguf"].read_bytes()
    assert pulled.downloaded_bytes == files["tiny-chat-Q8_0.gguf"].stat().st_size
    catalog = ModelCatalog(tmp_path)
    assert catalog.info("tiny-chat-q8_0").display_name == "Tiny Chat Q8"
    stages = [p.stage for p in seen]
    assert stages[0] == "resolving" and stages[-1] == "done"
    assert "downloading" in stages and "verifying" in stages
    assert seen[-1].done_bytes == seen[-1].total_bytes == pulled.files.total_size
    assert not list(pulled.path.parent.glob("*.partial*"))
    # With no quant named, the default Q4_K_M is chosen (the projector is never a candidate).
    default = puller_for(tmp_path, model_hub).pull(parse_pull_source(REPO))
    assert default.files.first.path == "tiny-chat-Q4_K_M.gguf"
    # Pulling again downloads nothing and keeps the name.
    again = puller_for(tmp_path, model_hub).pull(parse_pull_source(f"{REPO}:tiny-chat-Q8_0.gguf"))
    assert (again.entry.name, again.downloaded_bytes) == ("tiny-chat-q8_0", 0)
    assert len(gets(model_hub, "tiny-chat-Q8_0.gguf")) == 1


def test_a_cut_connection_is_resumed_with_a_range_request(
    tmp_path: Path, model_hub: ModelHubServer, files: dict[str, Path]
) -> None:
    # huggingface_hub writes in 10 MiB chunks: a cut at 11 MiB keeps the first chunk.
    model_hub.cut_after["tiny-chat-Q4_K_M.gguf"] = 11 << 20
    pulled = puller_for(tmp_path, model_hub).pull(parse_pull_source(f"{REPO}:Q4_K_M"))
    assert pulled.path.read_bytes() == files["tiny-chat-Q4_K_M.gguf"].read_bytes()
    assert gets(model_hub, "tiny-chat-Q4_K_M.gguf") == [None, f"bytes={10 << 20}-"]


def test_a_stopped_pull_goes_on_where_it_stopped(
    tmp_path: Path, model_hub: ModelHubServer, files: dict[str, Path]
) -> None:
    # What a pull stopped by Ctrl-C leaves: the first megabyte and the record of what it is.
    hosted = files["tiny-chat-Q4_K_M.gguf"]
    data = hosted.read_bytes()
    sha256, blob_id = model_hub.digests(HostedFile(hosted))
    folder = puller_for(tmp_path, model_hub).repo_dir(REPO)
    folder.mkdir(parents=True)
    (folder / "tiny-chat-Q4_K_M.gguf.partial").write_bytes(data[: 1 << 20])
    record = {"size": len(data), "sha256": sha256, "blob_id": blob_id}
    (folder / "tiny-chat-Q4_K_M.gguf.partial.json").write_text(json.dumps(record))
    pulled = puller_for(tmp_path, model_hub).pull(parse_pull_source(f"{REPO}:Q4_K_M"))
    assert gets(model_hub, "tiny-chat-Q4_K_M.gguf") == [f"bytes={1 << 20}-"]
    assert pulled.downloaded_bytes == len(data) - (1 << 20)
    assert pulled.path.read_bytes() == data


def test_a_file_that_fails_its_checksum_is_deleted_and_not_added(
    tmp_path: Path, model_hub: ModelHubServer
) -> None:
    model_hub.altered.add("tiny-chat-Q8_0.gguf")
    with pytest.raises(ChecksumMismatchError, match="does not match the repository's checksum"):
        puller_for(tmp_path, model_hub).pull(parse_pull_source(f"{REPO}:Q8_0"))
    folder = puller_for(tmp_path, model_hub).repo_dir(REPO)
    assert not list(folder.glob("*.gguf*"))
    assert "tiny-chat-q8_0" not in ModelCatalog(tmp_path).names()


def test_a_pull_that_would_fill_the_disk_is_refused_with_sizes(
    tmp_path: Path, model_hub: ModelHubServer
) -> None:
    access = ModelHubAccess(model_hub.url, False, None)
    puller = ModelPuller(ModelCatalog(tmp_path), access, 2_000_000_000, lambda _: 2_001_000_000)
    with pytest.raises(DiskFullError) as refused:
        puller.pull(parse_pull_source(f"{REPO}:Q8_0"))
    message = str(refused.value)
    assert "needs 0.00 GB more" in message and "2.00 GB is free" in message
    assert "smaller quantization" in message
    assert gets(model_hub, "tiny-chat-Q8_0.gguf") == []


def test_split_models_fetch_every_part_side_by_side(
    tmp_path: Path, model_hub: ModelHubServer, files: dict[str, Path]
) -> None:
    pulled = puller_for(tmp_path, model_hub).pull(parse_pull_source(SPLIT_REPO))
    assert [f.path.rsplit("/", 1)[1] for f in pulled.files.files] == [
        f"big-chat-Q4_K_M-0000{i}-of-00003.gguf" for i in (1, 2, 3)
    ]
    assert pulled.entry.name == "big-chat-q4_k_m"
    assert pulled.path.name == "big-chat-Q4_K_M-00001-of-00003.gguf"
    for index in (1, 2, 3):
        part = pulled.path.parent / f"big-chat-Q4_K_M-0000{index}-of-00003.gguf"
        assert part.read_bytes() == files[f"Q4_K_M/{part.name}"].read_bytes()


def test_offline_uses_what_was_downloaded_and_says_what_was_not(
    tmp_path: Path, model_hub: ModelHubServer
) -> None:
    puller_for(tmp_path, model_hub).pull(parse_pull_source(f"{REPO}:Q8_0"))
    ModelCatalog(tmp_path).remove("tiny-chat-q8_0")
    model_hub.requests.clear()
    offline = puller_for(tmp_path, model_hub, offline=True)
    pulled = offline.pull(parse_pull_source(f"{REPO}:Q8_0"), "mine")
    assert pulled.entry.name == "mine" and model_hub.requests == []
    with pytest.raises(NotDownloadedError, match="HF_HUB_OFFLINE"):
        offline.pull(parse_pull_source(f"{REPO}:Q4_K_M"))
    assert model_hub.requests == []


def test_offline_finds_files_in_huggingface_hubs_cache(
    tmp_path: Path, model_hub: ModelHubServer, files: dict[str, Path]
) -> None:
    from huggingface_hub import hf_hub_download

    hf_hub_download(
        REPO, "tiny-chat-Q4_K_M.gguf", cache_dir=tmp_path / "hf-cache", endpoint=model_hub.url
    )
    model_hub.requests.clear()
    pulled = puller_for(tmp_path, model_hub, offline=True).pull(parse_pull_source(REPO))
    assert pulled.path.read_bytes() == files["tiny-chat-Q4_K_M.gguf"].read_bytes()
    assert model_hub.requests == []


def test_unknown_repositories_and_files_name_the_fix(
    tmp_path: Path, model_hub: ModelHubServer
) -> None:
    puller = puller_for(tmp_path, model_hub)
    with pytest.raises(RepositoryUnknownError, match="check the name"):
        puller.pull(parse_pull_source("acme/No-Such-GGUF"))
    with pytest.raises(PullSpecError, match="has no Q2_K file; it offers: tiny-chat-Q4_K_M"):
        puller.pull(parse_pull_source(f"{REPO}:Q2_K"))
    with pytest.raises(PullSpecError, match=r"has no file other\.gguf"):
        puller.pull(parse_pull_source(f"{REPO}:other.gguf"))
    with pytest.raises(PullSpecError, match="OWNER/NAME"):
        parse_pull_source("just-a-name")
    unreachable = ModelPuller(
        ModelCatalog(tmp_path), ModelHubAccess("http://127.0.0.1:9", False, None), 0
    )
    with pytest.raises(HubUnreachableError, match=r"cannot reach http://127\.0\.0\.1:9"):
        unreachable.pull(parse_pull_source(REPO))


def test_cli_pull_draws_progress_and_adds_the_model(
    tmp_path: Path, model_hub: ModelHubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", model_hub.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    data = str(tmp_path / "data")
    result = CliRunner().invoke(app, ["models", "pull", f"{REPO}:Q8_0", "--data-dir", data])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "Added tiny-chat-q8_0 (acme/Tiny-Chat-GGUF, tiny-chat-Q8_0.gguf, 3 MB" in said
    assert "Use it with `hub models use tiny-chat-q8_0`" in said
    listed = CliRunner().invoke(app, ["models", "list", "--json", "--data-dir", data])
    assert "tiny-chat-q8_0" in [row["name"] for row in json.loads(listed.stdout)]
    missing = CliRunner().invoke(app, ["models", "pull", f"{REPO}:Q2_K", "--data-dir", data])
    assert missing.exit_code == 2 and "it offers" in " ".join(missing.output.split())
    shutil.rmtree(tmp_path / "data")
