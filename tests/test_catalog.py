"""The model catalog: packaged models, the person's own GGUF files, the active choice."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hub.models.catalog import ModelCatalog, ModelCatalogError, UnknownModelError
from hub.models.gguf_info import NotAGgufFileError
from hub.models.packaged import DEFAULT_MODEL_NAME


@pytest.fixture
def catalog(tmp_path: Path) -> ModelCatalog:
    return ModelCatalog(tmp_path / "data")


@pytest.fixture
def own_gguf(tmp_path: Path, catalog: ModelCatalog) -> Path:
    """A GGUF file of the person's own (a link to the packaged one, to keep the test small)."""
    target = tmp_path / "My-Model.Q4.gguf"
    os.symlink(catalog.path_for(DEFAULT_MODEL_NAME), target)
    return target


def test_default_is_the_embedded_model(catalog: ModelCatalog) -> None:
    assert catalog.active_name() == DEFAULT_MODEL_NAME
    info = catalog.info(DEFAULT_MODEL_NAME)
    assert (info.architecture, info.quantization, info.has_chat_template) == ("llama", "Q4_1", True)


def test_add_use_and_remove_an_own_model(catalog: ModelCatalog, own_gguf: Path) -> None:
    entry = catalog.add(own_gguf)
    assert entry.name == "my-model.q4"
    assert entry.source == "user"
    catalog.set_active(entry.name)
    assert ModelCatalog(catalog.data_dir).active_name() == entry.name
    assert catalog.info(entry.name).context_length == 8192
    with pytest.raises(ModelCatalogError, match="already exists"):
        catalog.add(own_gguf)
    catalog.remove(entry.name)
    assert catalog.active_name() == DEFAULT_MODEL_NAME


def test_files_that_are_not_models_are_refused(catalog: ModelCatalog, tmp_path: Path) -> None:
    text = tmp_path / "notes.gguf"
    text.write_text("hello")
    with pytest.raises(NotAGgufFileError, match="not a GGUF model"):
        catalog.add(text)
    with pytest.raises(NotAGgufFileError, match="does not exist"):
        catalog.add(tmp_path / "missing.gguf")
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(b"GGUF\x03\x00\x00\x00")
    with pytest.raises(NotAGgufFileError, match="damaged"):
        catalog.add(truncated)


def test_unknown_names_list_what_exists(catalog: ModelCatalog) -> None:
    with pytest.raises(UnknownModelError, match=DEFAULT_MODEL_NAME):
        catalog.set_active("nope")
    with pytest.raises(ModelCatalogError, match="cannot be removed"):
        catalog.remove(DEFAULT_MODEL_NAME)


def test_bad_names_are_refused(catalog: ModelCatalog, own_gguf: Path) -> None:
    with pytest.raises(ModelCatalogError, match="not a usable model name"):
        catalog.add(own_gguf, name="../evil")


def test_a_moved_file_is_listed_with_the_reason(catalog: ModelCatalog, own_gguf: Path) -> None:
    catalog.add(own_gguf, name="mine")
    own_gguf.unlink()
    rows = {row.entry.name: row for row in catalog.listing()}
    assert rows["mine"].info is None
    assert "does not exist" in (rows["mine"].error or "")
    assert rows[DEFAULT_MODEL_NAME].info is not None
