"""The de-quantized copy of the base model that nightly jobs keep: the same weights and
tokenizer come back, a damaged or half-written copy is never used, and only the newest copies
stay (a tiny random model stands in for the GGUF file, so each case takes a second)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import torch
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import Whitespace
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

import adapters.base_cache as base_cache
from adapters.base_cache import COMPLETE_MARKER, drop_old_copies, keep_copy, load_base_cached
from adapters.base_model import LoadedBase, loaded

SHA = "ab" * 32


def tiny_base() -> LoadedBase:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=16,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    words = ["<eos>", "my", "dog", "is", "called", "pistachio"]
    raw = Tokenizer(WordLevel({w: i for i, w in enumerate(words)}, unk_token="<eos>"))
    raw.pre_tokenizer = Whitespace()  # type: ignore[assignment]
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="<eos>")
    return loaded(model, tokenizer)


@pytest.fixture
def from_gguf(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Stand in for reading the GGUF file; records each time it is read."""
    reads: list[Path] = []

    def load_base(path: Path, threads: int) -> LoadedBase:
        reads.append(path)
        return tiny_base()

    monkeypatch.setattr(base_cache, "load_base", load_base)
    return reads


def same_weights(a: Any, b: Any) -> bool:
    first, second = a.state_dict(), b.state_dict()
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def test_the_second_load_reads_the_copy_with_the_same_weights_and_tokenizer(
    tmp_path: Path, from_gguf: list[Path]
) -> None:
    gguf = tmp_path / "m.gguf"
    first = load_base_cached(gguf, SHA, 1, tmp_path / "copies")
    second = load_base_cached(gguf, SHA, 1, tmp_path / "copies")
    assert from_gguf == [gguf]  # read once; the second came from the copy
    assert same_weights(first.model, second.model)
    tied = (
        second.model.lm_head.weight.data_ptr() == second.model.model.embed_tokens.weight.data_ptr()
    )
    assert tied
    assert second.tokenizer("my dog is called pistachio")["input_ids"] == [1, 2, 3, 4, 5]
    assert second.tokenizer.pad_token == "<eos>"
    assert (second.architecture, second.num_heads, second.num_kv_heads) == ("llama", 4, 2)
    ids = torch.tensor([[1, 2, 3]])
    assert torch.equal(first.model(ids).logits, second.model(ids).logits)
    assert "quantization_config" not in (tmp_path / "copies" / SHA / "config.json").read_text()


def test_no_cache_folder_means_always_the_gguf_file(tmp_path: Path, from_gguf: list[Path]) -> None:
    load_base_cached(tmp_path / "m.gguf", SHA, 1, None)
    load_base_cached(tmp_path / "m.gguf", SHA, 1, None)
    assert len(from_gguf) == 2


def test_a_copy_without_its_marker_or_damaged_is_never_used(
    tmp_path: Path, from_gguf: list[Path]
) -> None:
    copies = tmp_path / "copies"
    load_base_cached(tmp_path / "m.gguf", SHA, 1, copies)
    (copies / SHA / COMPLETE_MARKER).unlink()  # as if the writer died before the end
    load_base_cached(tmp_path / "m.gguf", SHA, 1, copies)
    assert len(from_gguf) == 2 and (copies / SHA / COMPLETE_MARKER).is_file()
    (copies / SHA / "model.safetensors").write_bytes(b"not weights")
    again = load_base_cached(tmp_path / "m.gguf", SHA, 1, copies)
    assert len(from_gguf) == 3  # the damaged copy was dropped and read again from the GGUF
    assert same_weights(again.model, tiny_base().model)
    assert load_base_cached(tmp_path / "m.gguf", SHA, 1, copies).architecture == "llama"
    assert len(from_gguf) == 3


def test_only_the_newest_copies_stay_and_half_written_ones_go(tmp_path: Path) -> None:
    copies = tmp_path / "copies"
    base = tiny_base()
    for n, sha in enumerate(("a" * 64, "b" * 64, "c" * 64)):
        keep_copy(base, copies, sha)
        os.utime(copies / sha, (1000 + n, 1000 + n))
    dead = copies / ".partial-dddd-999999999"
    dead.mkdir()
    drop_old_copies(copies, 2)
    assert sorted(p.name for p in copies.iterdir()) == ["b" * 64, "c" * 64]


def test_a_full_disk_keeps_no_copy_and_still_loads(
    tmp_path: Path, from_gguf: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(base_cache, "FREE_SPACE_MARGIN_BYTES", 1 << 60)
    base = load_base_cached(tmp_path / "m.gguf", SHA, 1, tmp_path / "copies")
    assert base.architecture == "llama"
    assert not (tmp_path / "copies" / SHA).exists()
