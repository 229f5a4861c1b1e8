"""What `hub models pull REPO[:FILE or quant]` means: which GGUF files of a repository to fetch.

A repository often holds one model in many quantizations (``...-Q4_K_M.gguf``, ``...-Q8_0.gguf``)
and large ones split into shards (``...-00001-of-00003.gguf``), which llama.cpp loads from the
first shard when all of them sit side by side. So a choice is always a whole group of shards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hub.errors import HubError

REPO_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
SHARD_PATTERN = re.compile(r"^(?P<stem>.+)-(?P<index>\d{5})-of-(?P<count>\d{5})\.gguf$")
# The quantization asked for when none is named: a good balance of size and quality.
DEFAULT_QUANT = "Q4_K_M"
# Vision projectors and the like are GGUF files too, but not chat models on their own.
NOT_A_MODEL_PREFIXES = ("mmproj", "imatrix")


class PullSpecError(HubError, ValueError):
    """The repository or file asked for cannot be pulled; the message says what to ask instead."""

    error_code = "invalid_pull"
    param = "source"


@dataclass(frozen=True)
class PullSource:
    """A repository and, optionally, the file or quantization wanted from it."""

    repo: str
    selector: str | None

    def __str__(self) -> str:
        return f"{self.repo}:{self.selector}" if self.selector else self.repo


@dataclass(frozen=True)
class RemoteFile:
    """One file of a repository as its metadata describes it."""

    path: str
    size: int
    sha256: str | None  # the LFS object's sha256; None for a file kept in git itself
    blob_id: str | None  # the git blob id (sha1 of the git object), always known


@dataclass(frozen=True)
class ModelFiles:
    """One model in a repository: a single GGUF file, or every shard of a split one, in order."""

    files: tuple[RemoteFile, ...]

    @property
    def first(self) -> RemoteFile:
        """The file llama.cpp opens (the first shard of a split model)."""
        return self.files[0]

    @property
    def total_size(self) -> int:
        """Bytes of every file together."""
        return sum(item.size for item in self.files)

    @property
    def label(self) -> str:
        """The model's file name without folder and shard numbers."""
        name = self.first.path.rsplit("/", 1)[-1]
        shard = SHARD_PATTERN.match(name)
        return shard.group("stem") if shard else name.removesuffix(".gguf")


def parse_pull_source(text: str) -> PullSource:
    """Split ``owner/name[:FILE or quant]`` into its parts, refusing anything else."""
    repo, _, selector = text.strip().partition(":")
    if not REPO_PATTERN.match(repo) or ".." in repo:
        raise PullSpecError(
            f"{text!r} is not a repository; write it as OWNER/NAME, optionally followed by "
            f":FILE.gguf or :QUANT (for example someone/Some-Model-GGUF:{DEFAULT_QUANT})"
        )
    return PullSource(repo, selector.strip() or None)


def _model_groups(files: list[RemoteFile]) -> list[ModelFiles]:
    """Every GGUF model in a listing: single files, and split ones with all their shards."""
    singles: list[ModelFiles] = []
    shards: dict[tuple[str, int], list[tuple[int, RemoteFile]]] = {}
    for item in files:
        name = item.path.rsplit("/", 1)[-1]
        if not name.lower().endswith(".gguf") or name.lower().startswith(NOT_A_MODEL_PREFIXES):
            continue
        shard = SHARD_PATTERN.match(item.path)
        if shard is None:
            singles.append(ModelFiles((item,)))
            continue
        key = (shard.group("stem"), int(shard.group("count")))
        shards.setdefault(key, []).append((int(shard.group("index")), item))
    groups = list(singles)
    for (stem, count), parts in shards.items():
        indexes = sorted(index for index, _ in parts)
        if indexes != list(range(1, count + 1)):
            missing = sorted(set(range(1, count + 1)) - set(indexes))
            raise PullSpecError(
                f"the split model {stem} lists {count} parts but part(s) "
                f"{', '.join(str(i) for i in missing)} are missing from the repository; "
                "pick another file or quantization"
            )
        groups.append(ModelFiles(tuple(item for _, item in sorted(parts, key=lambda p: p[0]))))
    return sorted(groups, key=lambda group: group.first.path)


def _quant_matches(group: ModelFiles, quant: str) -> bool:
    pattern = rf"(^|[-._/]){re.escape(quant)}([-._]|$)"
    return re.search(pattern, group.label, flags=re.IGNORECASE) is not None


def _describe(groups: list[ModelFiles]) -> str:
    return ", ".join(
        f"{group.first.path} ({group.total_size / 1e9:.1f} GB"
        + (f", {len(group.files)} parts)" if len(group.files) > 1 else ")")
        for group in groups
    )


def choose_model_files(source: PullSource, files: list[RemoteFile]) -> ModelFiles:
    """The model ``source`` asks for among ``files``; with no selector, the only GGUF model or
    the default quantization; an ambiguous or unknown choice names the ones there are."""
    groups = _model_groups(files)
    if not groups:
        raise PullSpecError(
            f"{source.repo} holds no GGUF model file; pull a repository that offers GGUF files "
            "(their names usually end in -GGUF), or convert the model with llama.cpp first"
        )
    selector = source.selector
    if selector is not None and selector.lower().endswith(".gguf"):
        for group in groups:
            paths = [item.path for item in group.files]
            names = [path.rsplit("/", 1)[-1] for path in paths]
            if selector in paths or selector in names:
                return group
        raise PullSpecError(f"{source.repo} has no file {selector}; it offers: {_describe(groups)}")
    if selector is None:
        if len(groups) == 1:
            return groups[0]
        wanted = [group for group in groups if _quant_matches(group, DEFAULT_QUANT)]
        if len(wanted) == 1:
            return wanted[0]
        raise PullSpecError(
            f"{source.repo} offers several models; add :FILE or :QUANT to the name "
            f"(for example {source.repo}:{DEFAULT_QUANT}); it offers: {_describe(groups)}"
        )
    matching = [group for group in groups if _quant_matches(group, selector)]
    if len(matching) == 1:
        return matching[0]
    if not matching:
        raise PullSpecError(f"{source.repo} has no {selector} file; it offers: {_describe(groups)}")
    raise PullSpecError(
        f"several files of {source.repo} match {selector}; name one with :FILE: "
        f"{_describe(matching)}"
    )


def model_name_for(group: ModelFiles) -> str:
    """The catalog name a pulled model gets by default: its file name, lower case."""
    name = re.sub(r"[^a-z0-9._-]+", "-", group.label.lower()).strip("-._")
    return name[:64] or "pulled-model"
