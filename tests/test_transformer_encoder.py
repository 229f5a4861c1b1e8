"""The embedder without sentence-transformers: the same vectors, and only where that holds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from memory.embedder import SentenceTransformerEmbedder, packaged_model_dir
from memory.transformer_encoder import EncoderLayout, read_layout

TEXTS = [
    "My son Stavros is studying marine biology at the university in Heraklion.",
    "   leading and trailing spaces   ",
    "",
    "Ünïcødé café — naïve résumé, 137 µg",
    "walkies " * 400,  # past the model's 256 word pieces
    "What is 15 plus 27?",
]


def folder_like_packaged(tmp_path: Path, pooling: dict[str, bool]) -> Path:
    """The packaged model's files (linked, not copied) with another pooling configuration."""
    source = packaged_model_dir()
    folder = tmp_path / "model"
    folder.mkdir(parents=True)
    for item in source.iterdir():
        if item.name != "1_Pooling":
            (folder / item.name).symlink_to(item)
    (folder / "1_Pooling").mkdir()
    config = json.loads((source / "1_Pooling" / "config.json").read_text())
    config.update({key: False for key in config if key.startswith("pooling_mode_")})
    config.update(pooling)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(config))
    return folder


def sentence_transformers_vectors(folder: Path, texts: list[str]) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device="cpu")
    return np.asarray(model.encode(texts, normalize_embeddings=True, convert_to_numpy=True))


def test_the_packaged_model_is_read_as_mean_pooling_over_256_word_pieces() -> None:
    assert read_layout(packaged_model_dir()) == EncoderLayout("mean", 256, False)


def write_folder(tmp_path: Path, modules: list[dict[str, str]], **files: object) -> Path:
    tmp_path.mkdir(parents=True)
    (tmp_path / "modules.json").write_text(json.dumps(modules))
    (tmp_path / "1_Pooling").mkdir(exist_ok=True)
    (tmp_path / "1_Pooling" / "config.json").write_text(
        json.dumps({"pooling_mode_mean_tokens": True})
    )
    settings = files.pop("sentence_bert_config", {"max_seq_length": 128})
    (tmp_path / "sentence_bert_config.json").write_text(json.dumps(settings))
    for name, content in files.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(content))
    return tmp_path


TRANSFORMER = {"idx": "0", "path": "", "type": "sentence_transformers.models.Transformer"}
POOLING = {"idx": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}
DENSE = {"idx": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}


def test_folders_needing_more_than_pooling_are_left_to_sentence_transformers(
    tmp_path: Path,
) -> None:
    assert read_layout(write_folder(tmp_path / "plain", [TRANSFORMER, POOLING])) == (
        EncoderLayout("mean", 128, False)
    )
    assert read_layout(write_folder(tmp_path / "dense", [TRANSFORMER, POOLING, DENSE])) is None
    prompted = write_folder(
        tmp_path / "prompt",
        [TRANSFORMER, POOLING],
        config_sentence_transformers={"prompts": {"query": "query: "}},
    )
    assert read_layout(prompted) is None
    with_args = write_folder(
        tmp_path / "args",
        [TRANSFORMER, POOLING],
        sentence_bert_config={"max_seq_length": 128, "tokenizer_args": {"add_prefix_space": 1}},
    )
    assert read_layout(with_args) is None
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "modules.json").write_text("{not json")
    assert read_layout(tmp_path / "broken") is None
    assert read_layout(tmp_path / "missing") is None


@pytest.mark.slow
def test_the_packaged_model_gives_sentence_transformers_vectors_without_importing_it() -> None:
    probe = (
        "import sys\n"
        "from memory.embedder import SentenceTransformerEmbedder\n"
        "SentenceTransformerEmbedder().embed(['hello'])\n"
        "print('sentence_transformers' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
    ours = SentenceTransformerEmbedder(batch_size=4).embed(TEXTS)
    theirs = sentence_transformers_vectors(packaged_model_dir(), TEXTS)
    assert ours.shape == theirs.shape == (len(TEXTS), 384)
    assert float(np.abs(ours - theirs).max()) < 1e-5
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


@pytest.mark.slow
def test_first_token_pooling_matches_and_max_pooling_falls_back(tmp_path: Path) -> None:
    cls = folder_like_packaged(tmp_path / "cls", {"pooling_mode_cls_token": True})
    assert read_layout(cls) == EncoderLayout("cls", 256, False)
    ours = SentenceTransformerEmbedder(cls).embed(TEXTS)
    assert float(np.abs(ours - sentence_transformers_vectors(cls, TEXTS)).max()) < 1e-5

    largest = folder_like_packaged(tmp_path / "max", {"pooling_mode_max_tokens": True})
    assert read_layout(largest) is None
    ours = SentenceTransformerEmbedder(largest).embed(TEXTS)
    assert float(np.abs(ours - sentence_transformers_vectors(largest, TEXTS)).max()) < 1e-5
