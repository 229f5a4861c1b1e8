"""The catalog of models: packaged ones plus GGUF files the person added, and the active choice."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from hub.datadir import ensure_data_dir
from hub.errors import HubError
from hub.models.gguf_info import GgufInfo, NotAGgufFileError, check_gguf_magic, read_gguf_info
from hub.models.packaged import DEFAULT_MODEL_NAME, PACKAGED_MODELS, PackagedModel
from hub.models.remote_endpoint import RemoteEndpoint
from memory.durable_files import write_atomically

REGISTRY_FILE_NAME = "models.json"
MODEL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

# Where a model came from: it ships with the hub, the person added the file, or the person
# added an OpenAI-compatible server that runs it.
ModelSource = Literal["packaged", "user", "remote"]


class UnknownModelError(HubError, LookupError):
    """No model of that name is in the catalog."""

    http_status = 404
    error_code = "model_not_found"
    param = "model"

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(
            f"no model named {name!r}; known models: {', '.join(known)} "
            "(add a GGUF file with `hub models add PATH`)"
        )
        self.name = name
        self.known = known


class ModelCatalogError(HubError, ValueError):
    """A catalog change was refused; the message says how to fix it."""

    error_code = "invalid_model"


class RemoteModelError(ModelCatalogError):
    """Asked for a remote engine's file, which is on another machine (personalization, say)."""

    http_status = 409
    error_code = "remote_model"


@dataclass(frozen=True)
class ModelEntry:
    """One model the hub can serve."""

    name: str
    source: ModelSource
    description: str
    user_path: Path | None = None
    remote: RemoteEndpoint | None = None
    workers: tuple[str, ...] = ()  # RPC workers (IPv4:port) that hold the model's layers


@dataclass(frozen=True)
class ModelListing:
    """A model together with what its file says about itself."""

    entry: ModelEntry
    path: Path | None
    info: GgufInfo | None
    error: str | None


class ModelCatalog:
    """Finds model files, reads their metadata (cached), and remembers the active model."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.models_dir = data_dir / "models"
        self.registry_path = data_dir / REGISTRY_FILE_NAME
        # Parsed once per version of the file (the CLI may change it while the hub runs): every
        # request looks its model up, and a stat is cheaper than reading and parsing JSON.
        self._cached: tuple[tuple[int, int], dict[str, Any]] | None = None

    def _load(self) -> dict[str, Any]:
        try:
            stat = self.registry_path.stat()
        except FileNotFoundError:
            return {
                "active": None,
                "user_models": {},
                "remote_models": {},
                "workers": {},
                "info_cache": {},
            }
        version = (stat.st_mtime_ns, stat.st_size)
        if self._cached is None or self._cached[0] != version:
            try:
                data = json.loads(self.registry_path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise ModelCatalogError(
                    f"{self.registry_path} is unreadable ({exc}); fix or delete it"
                ) from exc
            data.setdefault("user_models", {})
            data.setdefault("remote_models", {})
            data.setdefault("workers", {})
            data.setdefault("info_cache", {})
            self._cached = (version, data)
        return copy.deepcopy(self._cached[1])  # callers change what they get, then _save it

    def _save(self, data: dict[str, Any]) -> None:
        ensure_data_dir(self.data_dir)
        write_atomically(self.registry_path, json.dumps(data, indent=2, sort_keys=True) + "\n")

    def _packaged(self, name: str) -> PackagedModel | None:
        return next((model for model in PACKAGED_MODELS if model.name == name), None)

    def entries(self) -> list[ModelEntry]:
        """Every model, packaged first, then the person's own in name order."""
        data = self._load()
        workers = {name: tuple(found) for name, found in data["workers"].items()}
        found = [
            ModelEntry(m.name, "packaged", m.description, workers=workers.get(m.name, ()))
            for m in PACKAGED_MODELS
        ]
        for name, path in sorted(data["user_models"].items()):
            description = f"added from {path}"
            found.append(
                ModelEntry(name, "user", description, Path(path), None, workers.get(name, ()))
            )
        for name, remote in sorted(data["remote_models"].items()):
            endpoint = RemoteEndpoint(**remote)
            description = f"{endpoint.model} on the remote engine {endpoint.url}"
            found.append(ModelEntry(name, "remote", description, remote=endpoint))
        return found

    def names(self) -> list[str]:
        """Names of every model in the catalog."""
        return [entry.name for entry in self.entries()]

    def get(self, name: str) -> ModelEntry:
        """Return the entry named ``name`` or raise UnknownModelError."""
        for entry in self.entries():
            if entry.name == name:
                return entry
        raise UnknownModelError(name, self.names())

    def path_for(self, name: str) -> Path:
        """Return the model's GGUF path, assembling a packaged model on first use."""
        entry = self.get(name)
        if entry.user_path is not None:
            return entry.user_path
        if entry.remote is not None:
            raise RemoteModelError(
                f"{name} is a remote engine ({entry.remote.url}): its weights are on that "
                "machine, not here. Personalization trains an adapter on a local GGUF file and "
                "cannot change a remote model: choose a local model with `hub models use NAME`"
            )
        packaged = self._packaged(name)
        assert packaged is not None
        return packaged.locate(self.models_dir)

    def training_path(self, name: str) -> Path:
        """The GGUF file a nightly run trains on: refused for remote models and for models
        whose layers live on RPC workers (training needs the whole model in this machine)."""
        entry = self.get(name)
        if entry.workers:
            raise RemoteModelError(
                f"{name} keeps its layers on RPC workers ({', '.join(entry.workers)}): "
                "personalization trains on the whole model in this machine's memory, which a "
                "model split across machines does not fit; choose a model that runs here alone "
                "with `hub models use NAME`"
            )
        return self.path_for(name)

    def info(self, name: str) -> GgufInfo:
        """Return the model's GGUF metadata, read once per file version and cached."""
        path = self.path_for(name)
        check_gguf_magic(path)
        stat = path.stat()
        key = f"{path}:{stat.st_size}:{stat.st_mtime_ns}"
        data = self._load()
        cached = data["info_cache"].get(key)
        if cached is not None:
            return GgufInfo.from_dict(cached)
        info = read_gguf_info(path)
        data["info_cache"] = {
            k: v for k, v in data["info_cache"].items() if not k.startswith(f"{path}:")
        }
        data["info_cache"][key] = info.to_dict()
        self._save(data)
        return info

    def listing(self) -> list[ModelListing]:
        """Every model with its metadata; a broken file is listed with the reason."""
        rows = []
        for entry in self.entries():
            if entry.remote is not None:
                rows.append(ModelListing(entry, None, None, None))
                continue
            try:
                path = self.path_for(entry.name)
                rows.append(ModelListing(entry, path, self.info(entry.name), None))
            except (NotAGgufFileError, RuntimeError, OSError) as exc:
                rows.append(ModelListing(entry, entry.user_path, None, str(exc)))
        return rows

    def add(self, path: Path, name: str | None = None) -> ModelEntry:
        """Add the person's own GGUF file under ``name`` (default: the file's stem)."""
        resolved = path.expanduser().absolute()
        check_gguf_magic(resolved)
        read_gguf_info(resolved)
        chosen = name or resolved.stem.lower()
        self._check_new_name(chosen)
        data = self._load()
        data["user_models"][chosen] = str(resolved)
        self._save(data)
        return self.get(chosen)

    def _check_new_name(self, chosen: str) -> None:
        if not MODEL_NAME_PATTERN.match(chosen):
            raise ModelCatalogError(
                f"{chosen!r} is not a usable model name; pick one with letters, digits, '.', '_' "
                "or '-' using --name"
            )
        if chosen in self.names():
            raise ModelCatalogError(
                f"a model named {chosen!r} already exists; pick another with --name"
            )

    def add_remote(self, name: str, endpoint: RemoteEndpoint) -> ModelEntry:
        """Add an OpenAI-compatible server as a model; its fallback must be a local model."""
        self._check_new_name(name)
        parts = urlsplit(endpoint.url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ModelCatalogError(
                f"{endpoint.url!r} is not a server address; give its API base, such as "
                "http://192.168.1.20:8080/v1"
            )
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ModelCatalogError(
                "give the address without user, password, query or fragment; "
                "pass a key with --api-key"
            )
        fallback = endpoint.fallback or DEFAULT_MODEL_NAME
        if self.get(fallback).remote is not None:
            raise ModelCatalogError(
                f"the fallback {fallback!r} is a remote engine too; name a local model"
            )
        data = self._load()
        data["remote_models"][name] = {
            "url": endpoint.url.rstrip("/"),
            "model": endpoint.model,
            "api_key": endpoint.api_key,
            "fallback": fallback,
            "context_length": endpoint.context_length,
        }
        self._save(data)
        return self.get(name)

    def remove(self, name: str) -> None:
        """Forget a model the person added (the file itself is left alone)."""
        entry = self.get(name)
        if entry.source == "packaged":
            raise ModelCatalogError(f"{name!r} ships with the hub and cannot be removed")
        data = self._load()
        del data["remote_models" if entry.source == "remote" else "user_models"][name]
        data["workers"].pop(name, None)
        if data.get("active") == name:
            data["active"] = None
        self._save(data)

    def set_workers(self, name: str, workers: tuple[str, ...]) -> ModelEntry:
        """Serve ``name`` with its layers on these RPC workers (checked addresses; () for none)."""
        entry = self.get(name)
        if entry.remote is not None and workers:
            raise ModelCatalogError(
                f"{name} is a remote engine: its server places its own layers; workers are for "
                "models this hub loads"
            )
        data = self._load()
        if workers:
            data["workers"][name] = list(workers)
        else:
            data["workers"].pop(name, None)
        self._save(data)
        return self.get(name)

    def active_name(self) -> str:
        """The model chosen with `hub models use`, or the embedded default."""
        chosen = self._load().get("active")
        if isinstance(chosen, str) and chosen in self.names():
            return chosen
        return DEFAULT_MODEL_NAME

    def set_active(self, name: str) -> None:
        """Remember ``name`` as the model to serve from now on."""
        self.get(name)
        data = self._load()
        data["active"] = name
        self._save(data)
