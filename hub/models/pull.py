"""ModelPuller: fetch a GGUF model from a Hugging Face repository into the data directory.

huggingface_hub reads the repository's metadata (sizes, the LFS sha256 of every file) and moves
the bytes, retrying with a Range request when a connection is cut. The hub keeps its own
``.partial`` file beside the target, so a pull that was stopped (Ctrl-C, a reboot) goes on where
it stopped when asked again, as long as the repository still holds the same file. Every file is
checked against the repository's checksum before it is used; a file that does not match is
deleted and nothing is added to the catalog.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

from hub.disk_space import DiskFullError
from hub.errors import HubError
from hub.models.catalog import ModelCatalog, ModelEntry
from hub.models.pull_spec import (
    ModelFiles,
    PullSource,
    PullSpecError,
    RemoteFile,
    choose_model_files,
    model_name_for,
)
from memory.durable_files import replace_durably, write_atomically

logger = logging.getLogger(__name__)

PULLED_FOLDER = "pulled"
MANIFEST_NAME = "pulled.json"
HASH_CHUNK = 4 << 20
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")

PullStage = Literal["resolving", "downloading", "verifying", "adding", "done"]


class PullError(HubError, RuntimeError):
    """A pull failed; the message says why and what to do."""

    http_status = 502
    error_code = "pull_failed"
    error_type = "server_error"


class RepositoryUnknownError(PullError):
    """The repository does not exist, is private, or asks for its licence to be accepted."""

    http_status = 404
    error_code = "repository_not_found"
    error_type = "invalid_request_error"


class HubUnreachableError(PullError):
    """The model hub could not be reached."""

    http_status = 503
    error_code = "model_hub_unreachable"


class ChecksumMismatchError(PullError):
    """A downloaded file is not the one the repository describes; it was deleted."""

    error_code = "checksum_mismatch"


class NotDownloadedError(PullError):
    """Offline, and the model asked for was never downloaded."""

    http_status = 404
    error_code = "not_downloaded"
    error_type = "invalid_request_error"


class PullBusyError(PullError):
    """Another pull is already writing this file."""

    http_status = 409
    error_code = "pull_in_progress"
    error_type = "invalid_request_error"


@dataclass(frozen=True)
class ModelHubAccess:
    """Where models come from: huggingface_hub's own endpoint unless ``HF_ENDPOINT`` names
    another, whether to stay offline (``HF_HUB_OFFLINE``), and huggingface_hub's cache, where
    files other tools downloaded can be found offline."""

    endpoint: str | None
    offline: bool
    hf_cache: Path | None  # None: huggingface_hub's default cache

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ModelHubAccess:
        """Read huggingface_hub's variables now: it reads them once, when imported, which in a
        long-lived process (or a test) may be before they were set. huggingface_hub is not
        imported here: in the hub's process it must first be switched offline (the embedder)."""
        env = os.environ if environ is None else environ
        offline = any(  # huggingface_hub takes either as offline
            env.get(key, "").strip().lower() in {"1", "true", "yes", "on"}
            for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
        )
        cache = env.get("HF_HUB_CACHE") or (
            str(Path(env["HF_HOME"]) / "hub") if env.get("HF_HOME") else None
        )
        return cls(env.get("HF_ENDPOINT") or None, offline, Path(cache) if cache else None)

    @property
    def where(self) -> str:
        """The endpoint as a person would recognise it."""
        return self.endpoint or "the default model hub"


@dataclass(frozen=True)
class PullProgress:
    """How far a pull has come, over all its files."""

    stage: PullStage
    file: str
    done_bytes: int
    total_bytes: int


ProgressFn = Callable[[PullProgress], None]
FreeBytesFn = Callable[[Path], int]


@dataclass(frozen=True)
class PulledModel:
    """A pulled model, now in the catalog."""

    entry: ModelEntry
    repo: str
    files: ModelFiles
    path: Path
    downloaded_bytes: int  # 0 when every file was already here


def _no_progress(progress: PullProgress) -> None:
    del progress


def _free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


class _CountingFile:
    """The partial file as huggingface_hub's downloader sees it; each write reports progress."""

    def __init__(self, handle: BinaryIO, on_write: Callable[[int], None]) -> None:
        self._handle = handle
        self._on_write = on_write

    def write(self, data: bytes) -> int:
        written = self._handle.write(data)
        self._on_write(len(data))
        return written

    def tell(self) -> int:
        return self._handle.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._handle.seek(offset, whence)

    def truncate(self, size: int | None = None) -> int:
        return self._handle.truncate(size)


def _silent_bar_class() -> type[Any]:
    from tqdm import tqdm  # type: ignore[import-untyped]

    class SilentBar(tqdm):  # type: ignore[misc]
        """huggingface_hub's own bar, turned off: the hub draws (or reports) its own."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

    return SilentBar


def file_matches(path: Path, remote: RemoteFile, progress: Callable[[int], None]) -> bool:
    """True when ``path`` holds exactly the file the repository describes (its LFS sha256, or
    for a file kept in git its blob id)."""
    if path.stat().st_size != remote.size:
        return False
    if remote.sha256 is not None:
        digest = hashlib.sha256()
        expected = remote.sha256.lower()
    elif remote.blob_id is not None:
        digest = hashlib.sha1(usedforsecurity=False)
        digest.update(b"blob %d\0" % remote.size)  # git hashes a header, then the content
        expected = remote.blob_id.lower()
    else:
        return True  # nothing to check against (only offline, from a cache without a record)
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
            progress(len(chunk))
    return digest.hexdigest() == expected


@contextlib.contextmanager
def _locked(handle: BinaryIO, path: Path) -> Iterator[None]:
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        raise PullBusyError(
            f"another pull is downloading {path.name}; wait for it to finish"
        ) from exc
    try:
        yield
    finally:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class ModelPuller:
    """Pulls GGUF models into ``data_dir/models/pulled`` and adds them to the catalog."""

    def __init__(
        self,
        catalog: ModelCatalog,
        access: ModelHubAccess,
        reserve_bytes: int,
        free_bytes: FreeBytesFn = _free_bytes,
    ) -> None:
        self.catalog = catalog
        self.access = access
        self.reserve_bytes = reserve_bytes  # left free after the pull, for the hub's databases
        self._free = free_bytes
        self.root = catalog.models_dir / PULLED_FOLDER

    def repo_dir(self, repo: str) -> Path:
        """Where a repository's files are kept."""
        return self.root / repo.replace("/", "--")

    def pull(
        self, source: PullSource, name: str | None = None, progress: ProgressFn = _no_progress
    ) -> PulledModel:
        """Fetch what ``source`` names (or find it, offline), verify it, add it to the catalog."""
        progress(PullProgress("resolving", source.repo, 0, 0))
        if self.access.offline:
            return self._pull_offline(source, name, progress)
        revision, files = self._remote_listing(source.repo)
        group = choose_model_files(source, files)
        folder = self.repo_dir(source.repo)
        targets = [self._target(folder, item) for item in group.files]
        manifest = self._manifest(folder)
        wanted = [
            (item, target)
            for item, target in zip(group.files, targets, strict=True)
            if not (target.exists() and self._recorded(manifest.get(item.path), item))
        ]
        self._check_room(folder, wanted, group)
        done = group.total_size - sum(item.size for item, _ in wanted)
        downloaded = 0
        for item, target in wanted:
            downloaded += self._download(source.repo, revision, item, target, group, done, progress)
            done += item.size
            manifest = self._manifest(folder)
            manifest[item.path] = self._record(item) | {"revision": revision}
            write_atomically(folder / MANIFEST_NAME, json.dumps(manifest, indent=2) + "\n")
        entry = self._add(targets[0], name or model_name_for(group), progress)
        progress(PullProgress("done", group.first.path, group.total_size, group.total_size))
        return PulledModel(entry, source.repo, group, targets[0], downloaded)

    # -- the repository's side ---------------------------------------------------------------

    def _remote_listing(self, repo: str) -> tuple[str, list[RemoteFile]]:
        from huggingface_hub import HfApi
        from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

        api = HfApi(endpoint=self.access.endpoint)
        try:
            info = api.model_info(repo, files_metadata=True)
        except GatedRepoError as exc:
            raise RepositoryUnknownError(
                f"{repo} asks you to accept its licence first: accept it on the repository's "
                "page, then log in with `hf auth login` (or set HF_TOKEN) and pull again"
            ) from exc
        except RepositoryNotFoundError as exc:
            raise RepositoryUnknownError(
                f"no repository {repo} at {self.access.where} (or it is private); check the "
                "name (OWNER/NAME, as on the repository's page), or log in with `hf auth login` "
                "for a private one"
            ) from exc
        except Exception as exc:
            raise self._unreachable(exc) from exc
        files = [
            RemoteFile(
                sibling.rfilename,
                int(sibling.lfs.size if sibling.lfs else sibling.size or 0),
                sibling.lfs.sha256 if sibling.lfs else None,
                sibling.blob_id,
            )
            for sibling in info.siblings or []
        ]
        if info.sha is None:
            raise PullError(f"{self.access.where} did not say which revision of {repo} it serves")
        return info.sha, files

    def _unreachable(self, exc: Exception) -> PullError:
        from huggingface_hub.errors import HfHubHTTPError

        if isinstance(exc, HfHubHTTPError):
            return PullError(f"{self.access.where} refused the request: {exc}")
        return HubUnreachableError(
            f"cannot reach {self.access.where} ({type(exc).__name__}: {exc}); check the network "
            "(or HF_ENDPOINT), or set HF_HUB_OFFLINE=1 to use files already downloaded"
        )

    # -- files on this machine ---------------------------------------------------------------

    def _target(self, folder: Path, item: RemoteFile) -> Path:
        parts = Path(item.path).parts
        if not parts or Path(item.path).is_absolute() or ".." in parts:
            raise PullError(f"refusing the file name {item.path!r}: it points outside the folder")
        return folder.joinpath(*parts)

    def _manifest(self, folder: Path) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, json.JSONDecodeError):
            logger.warning("ignoring the unreadable %s", folder / MANIFEST_NAME)
            return {}
        return data if isinstance(data, dict) else {}

    @staticmethod
    def _record(item: RemoteFile) -> dict[str, Any]:
        return {"size": item.size, "sha256": item.sha256, "blob_id": item.blob_id}

    def _recorded(self, record: dict[str, Any] | None, item: RemoteFile) -> bool:
        # Verified when it was downloaded: the same file needs no second download or hash.
        return record is not None and all(record.get(k) == v for k, v in self._record(item).items())

    def _check_room(
        self, folder: Path, wanted: list[tuple[RemoteFile, Path]], group: ModelFiles
    ) -> None:
        if not wanted:
            return
        folder.mkdir(parents=True, exist_ok=True)
        needed = 0
        for item, target in wanted:
            partial = target.with_name(target.name + ".partial")
            have = partial.stat().st_size if partial.exists() else 0
            needed += max(item.size - have, 0)
        free = self._free(folder)
        if free - needed < self.reserve_bytes:
            raise DiskFullError(
                f"not enough disk for {group.label}: it needs {needed / 1e9:.2f} GB more, "
                f"{free / 1e9:.2f} GB is free at {folder} and the hub keeps "
                f"{self.reserve_bytes / 1e9:.2f} GB free; make room or pull a smaller "
                "quantization (for example :Q4_K_M or :Q3_K_M)"
            )

    def _download(
        self,
        repo: str,
        revision: str,
        item: RemoteFile,
        target: Path,
        group: ModelFiles,
        done_before: int,
        progress: ProgressFn,
    ) -> int:
        """Download one file into its ``.partial`` (going on from what is there), verify it and
        move it into place; returns the bytes fetched."""
        from huggingface_hub import hf_hub_url
        from huggingface_hub.file_download import http_get
        from huggingface_hub.utils import build_hf_headers  # type: ignore[attr-defined]

        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        record_path = target.with_name(target.name + ".partial.json")
        record = self._record(item)
        if partial.exists() and self._read_record(record_path) != record:
            partial.unlink()  # a different version of the file: what is there is of no use
        write_atomically(record_path, json.dumps(record) + "\n")
        total = group.total_size
        with partial.open("ab") as handle, _locked(handle, partial):
            have = handle.tell()
            position = [done_before + have]

            def report(count: int) -> None:
                position[0] += count
                progress(PullProgress("downloading", item.path, position[0], total))

            report(0)
            if have < item.size:
                http_get(
                    hf_hub_url(repo, item.path, revision=revision, endpoint=self.access.endpoint),
                    _CountingFile(handle, report),  # type: ignore[arg-type]
                    resume_size=have,
                    headers=build_hf_headers(),
                    expected_size=item.size,
                    displayed_filename=item.path,
                    tqdm_class=_silent_bar_class(),
                )
            handle.flush()
            os.fsync(handle.fileno())
            fetched = handle.tell() - have
            self._verify(partial, item, done_before, total, progress)
            replace_durably(partial, target)
        record_path.unlink(missing_ok=True)
        return fetched

    @staticmethod
    def _read_record(path: Path) -> dict[str, Any] | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None
        return data if isinstance(data, dict) else None

    def _verify(
        self, path: Path, item: RemoteFile, done_before: int, total: int, progress: ProgressFn
    ) -> None:
        checked = [done_before]

        def report(count: int) -> None:
            checked[0] += count
            progress(PullProgress("verifying", item.path, checked[0], total))

        if file_matches(path, item, report):
            return
        path.unlink(missing_ok=True)
        path.with_name(path.name + ".json").unlink(missing_ok=True)
        what = f"sha256 {item.sha256}" if item.sha256 else f"git blob {item.blob_id}"
        raise ChecksumMismatchError(
            f"{item.path} arrived damaged or altered: it does not match the repository's "
            f"checksum ({what}); the file was deleted and nothing was added. Pull again; if it "
            "fails the same way, the server or something between is changing the file"
        )

    def _add(self, path: Path, name: str, progress: ProgressFn) -> ModelEntry:
        progress(PullProgress("adding", path.name, 0, 0))
        for entry in self.catalog.entries():
            if entry.user_path is not None and entry.user_path == path.absolute():
                return entry  # pulled before: the same file keeps its name
        return self.catalog.add(path, name)

    # -- offline -----------------------------------------------------------------------------

    def _pull_offline(
        self, source: PullSource, name: str | None, progress: ProgressFn
    ) -> PulledModel:
        folder = self.repo_dir(source.repo)
        local: dict[str, tuple[RemoteFile, Path]] = {}
        for path, record in self._manifest(folder).items():
            target = self._target(folder, RemoteFile(path, 0, None, None))
            if target.exists():
                item = RemoteFile(path, int(record["size"]), record["sha256"], record["blob_id"])
                local[path] = (item, target)
        for item, target in self._hf_cache_files(source.repo):
            local.setdefault(item.path, (item, target))
        try:
            group = choose_model_files(source, [item for item, _ in local.values()])
        except PullSpecError as exc:
            raise NotDownloadedError(
                f"offline (HF_HUB_OFFLINE is set) and {source} was never downloaded here "
                f"({exc}); pull it once with the network on, or unset HF_HUB_OFFLINE"
            ) from exc
        targets = [local[item.path][1] for item in group.files]
        checked = [0]

        def report(count: int) -> None:
            checked[0] += count
            progress(PullProgress("verifying", group.first.path, checked[0], group.total_size))

        for item, target in zip(group.files, targets, strict=True):
            if not file_matches(target, item, report):
                raise ChecksumMismatchError(
                    f"{target} does not match the checksum recorded when it was downloaded; "
                    "delete it and pull again with the network on"
                )
        entry = self._add(targets[0], name or model_name_for(group), progress)
        progress(PullProgress("done", group.first.path, group.total_size, group.total_size))
        return PulledModel(entry, source.repo, group, targets[0], 0)

    def _hf_cache_files(self, repo: str) -> list[tuple[RemoteFile, Path]]:
        """GGUF files of ``repo`` that huggingface_hub's cache holds (another tool fetched
        them); the cache names each LFS file by its sha256, which is checked before use."""
        from huggingface_hub import constants
        from huggingface_hub.file_download import repo_folder_name

        cache = self.access.hf_cache or Path(constants.HF_HUB_CACHE)
        snapshots = cache / repo_folder_name(repo_id=repo, repo_type="model")
        found = []
        for path in sorted((snapshots / "snapshots").glob("*/**/*.gguf")):
            relative = path.relative_to(snapshots / "snapshots").parts[1:]
            blob = path.resolve()
            sha = blob.name if SHA256_PATTERN.match(blob.name) else None
            found.append((RemoteFile("/".join(relative), blob.stat().st_size, sha, None), path))
        return found
