"""ServedAdapters: which LoRA adapter each model serves with, checked against the model's file.

Built before the model runner, which asks it on every model load and adapter swap; the
personalization service changes what it answers by promoting and rolling back versions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from adapters.export_gguf import BASE_SHA256_KEY
from adapters.registry import AdapterRegistry, RegistryError
from hub.models.catalog import ModelCatalog
from hub.personalization.jobs import base_sha256

logger = logging.getLogger(__name__)


def adapter_base_sha256(path: Path) -> str | None:
    """The base model hash written into a GGUF LoRA file by our export, if present."""
    import gguf

    reader = gguf.GGUFReader(str(path))
    field_ = reader.get_field(BASE_SHA256_KEY)
    if field_ is None:
        return None
    return str(field_.contents())


@dataclass(frozen=True)
class ServedAdapters:
    """The registry's active versions, as the adapter files a model should load."""

    registry: AdapterRegistry
    catalog: ModelCatalog

    def base_sha256_of(self, model_name: str) -> str:
        """The hash of a catalog model's file (cached); blocking."""
        return base_sha256(self.registry, self.catalog.path_for(model_name))

    def adapter_for(self, model_name: str) -> Path | None:
        """The GGUF adapter to serve with ``model_name``, checked against the model's hash;
        blocking (the runner calls it on its worker thread)."""
        try:
            sha = self.base_sha256_of(model_name)
            version = self.registry.active(sha)
        except (OSError, RuntimeError, RegistryError):
            logger.exception("cannot read the active adapter for %s; serving none", model_name)
            return None
        if version is None:
            return None
        path = self.registry.gguf_path(version.id)
        written = adapter_base_sha256(path)
        if version.base_sha256 != sha or written != sha:
            logger.error(
                "adapter %s was made for another base model than %s; not loading it",
                version.id,
                model_name,
            )
            return None
        return path
