"""A de-quantized copy of the base model kept on disk, so a nightly job loads it in seconds.

Reading a GGUF file into transformers parses its metadata three times and de-quantizes every
tensor: about 25 seconds for the 135M model on 2 cores, every night. The first job keeps what it
loaded (float32 safetensors, the config and the tokenizer) under the cache folder, named by the
GGUF file's SHA-256; later jobs on the same file load that copy instead, bit for bit the same
weights. The copy is written to a temporary folder and renamed into place, with a marker file
written last, so a crash never leaves a half copy that would be read. Only the newest copies
are kept; a copy that fails to load is deleted and the GGUF file is read again.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

from adapters.base_model import LoadedBase, load_base, loaded, prepare_torch

logger = logging.getLogger(__name__)

COMPLETE_MARKER = "complete"
WEIGHTS_FILE = "model.safetensors"
# One copy per base model; two covers switching models back and forth.
COPIES_KEPT = 2
# The copy is written only with this much room left beside it.
FREE_SPACE_MARGIN_BYTES = 2 << 30


def load_base_cached(path: Path, sha256: str, threads: int, cache_dir: Path | None) -> LoadedBase:
    """The base model at ``path`` (whose SHA-256 is ``sha256``), from the copy in
    ``cache_dir`` when there is one, else from the GGUF file, keeping a copy for next time.
    ``cache_dir`` None: always from the GGUF file."""
    if cache_dir is None:
        return load_base(path, threads)
    copy = cache_dir / sha256
    if (copy / COMPLETE_MARKER).is_file():
        try:
            base = load_copy(copy, threads)
            os.utime(copy)  # the newest use keeps it among the copies kept
            return base
        except Exception:  # a damaged copy is only a slower night, never a failed one
            logger.warning("the kept copy of the base model in %s failed to load", copy)
            shutil.rmtree(copy, ignore_errors=True)
    base = load_base(path, threads)
    try:
        keep_copy(base, cache_dir, sha256)
    except OSError as exc:
        logger.warning("could not keep a de-quantized copy of the base model: %s", exc)
    return base


def load_copy(copy: Path, threads: int) -> LoadedBase:
    """Load a kept copy (see the module's docstring)."""
    prepare_torch(threads)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(copy), dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(copy))
    return loaded(model, tokenizer)


def keep_copy(base: LoadedBase, cache_dir: Path, sha256: str) -> None:
    """Write ``base`` as the copy named ``sha256``, atomically, and drop the oldest copies."""
    from safetensors.torch import save_model

    cache_dir.mkdir(parents=True, exist_ok=True)
    size = sum(p.numel() * p.element_size() for p in base.model.parameters())
    free = shutil.disk_usage(cache_dir).free
    if free < size + FREE_SPACE_MARGIN_BYTES:
        raise OSError(f"{free >> 20} MiB free in {cache_dir}, the copy needs {size >> 20} MiB")
    staging = cache_dir / f".partial-{sha256}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir()
        save_model(base.model, str(staging / WEIGHTS_FILE))  # tied weights are written once
        config = base.model.config.to_dict()
        # Loaded from GGUF, the config says so; the copy is plain float32 weights.
        config.pop("quantization_config", None)
        (staging / "config.json").write_text(json.dumps(config, indent=2))
        base.tokenizer.save_pretrained(str(staging))
        (staging / COMPLETE_MARKER).write_text(sha256 + "\n")
        for file in staging.iterdir():
            with file.open("rb") as handle:
                os.fsync(handle.fileno())
        final = cache_dir / sha256
        shutil.rmtree(final, ignore_errors=True)
        os.replace(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    drop_old_copies(cache_dir, COPIES_KEPT)


def drop_old_copies(cache_dir: Path, kept: int) -> None:
    """Delete all but the ``kept`` most recently used copies, and any half-written one."""
    copies = [path for path in cache_dir.iterdir() if path.is_dir()]
    for path in copies:
        if path.name.startswith(".partial-") and not _writer_alive(path.name):
            shutil.rmtree(path, ignore_errors=True)
    finished = sorted(
        (path for path in copies if not path.name.startswith(".")),
        key=lambda path: path.stat().st_mtime,
        reverse=True,
    )
    for path in finished[kept:]:
        shutil.rmtree(path, ignore_errors=True)


def _writer_alive(name: str) -> bool:
    pid = name.rsplit("-", 1)[-1]
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
