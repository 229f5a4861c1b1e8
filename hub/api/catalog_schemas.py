"""Answers of /v1/models: the catalog in OpenAI's list shape, plus what the hub knows of each
model's file, and the active model."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from hub.engine.runner import ModelState, ModelStatus
from hub.models.catalog import ModelListing, ModelSource
from hub.models.pull_jobs import PullJob


class ModelObject(BaseModel):
    """One model the hub can serve."""

    id: str = Field(description="The model's name: what requests put in `model`.")
    object: Literal["model"]
    created: int = Field(description="Always 0 (OpenAI's creation time; unknown here).")
    owned_by: Literal["local"]
    source: ModelSource = Field(
        description='"packaged" ships with the hub; "user" was added with `hub models add`.'
    )
    description: str
    active: bool = Field(description="Answers requests that name no other model.")
    loaded: bool = Field(description="In memory now, so its next answer starts at once.")
    path: str | None = Field(
        description="The GGUF file (shown to the owner only); null when it cannot be located."
    )
    architecture: str | None = Field(description="From the file; null when it is unreadable.")
    size_bytes: int | None
    quantization: str | None = Field(description='Such as "Q4_K_M".')
    context_length: int | None = Field(description="Tokens the model was trained to attend to.")
    chat_template: bool | None = Field(description="Whether the file carries a chat template.")
    error: str | None = Field(description="Why the file is unusable; null when it is fine.")

    @classmethod
    def from_listing(
        cls, listing: ModelListing, active: str, loaded: list[str], show_files: bool = True
    ) -> ModelObject:
        """The API's view of a catalog entry and its file. Without ``show_files`` (a client
        program asking, not the owner) where files and servers are stays unsaid."""
        info = listing.info
        entry = listing.entry
        description = entry.description
        error = listing.error
        if not show_files and entry.source != "packaged":
            description = "a model the owner added"
            error = "the model's file is unusable" if error else None
        return cls(
            id=entry.name,
            object="model",
            created=0,
            owned_by="local",
            source=entry.source,
            description=description,
            active=entry.name == active,
            loaded=entry.name in loaded,
            path=str(listing.path) if listing.path and show_files else None,
            architecture=info.architecture if info else None,
            size_bytes=info.file_size if info else None,
            quantization=info.quantization if info else None,
            context_length=info.context_length if info else None,
            chat_template=info.has_chat_template if info else None,
            error=error,
        )


class ModelList(BaseModel):
    """GET /v1/models: every model, packaged first."""

    object: Literal["list"]
    data: list[ModelObject]


class ActiveModel(BaseModel):
    """The model answering requests that name no other, and why it is not the chosen one when
    it is not."""

    model: str = Field(
        description="Answers requests that name no model (the chosen one when "
        "no model could be loaded)."
    )
    status: ModelState = Field(
        description='"ready", "fallback" (the packaged model answers because the chosen one '
        'failed to load), "unavailable" (none loaded; chat answers 503) or "loading".'
    )
    chosen: str = Field(description="The model the settings or `hub models use` chose.")
    reason: str | None = Field(description="Why the chosen model does not answer; null if it does.")

    @classmethod
    def from_runner(cls, active: str, status: ModelStatus) -> ActiveModel:
        """The runner's active model and its status."""
        return cls(model=active, status=status.state, chosen=status.chosen, reason=status.reason)


class PullRequest(BaseModel):
    """POST /v1/models/pulls: a GGUF model to fetch from a Hugging Face repository."""

    source: str = Field(
        min_length=3,
        max_length=300,
        description="OWNER/NAME, optionally :FILE.gguf or :QUANT (such as Q4_K_M).",
    )
    name: str | None = Field(
        default=None, max_length=64, description="Catalog name; default: the file's name."
    )


class PullObject(BaseModel):
    """A pull the hub is making or made, and how far it came."""

    id: str
    source: str
    state: Literal["running", "done", "failed"]
    stage: str = Field(description="resolving, downloading, verifying, adding or done.")
    file: str = Field(description="The file being fetched or checked.")
    done_bytes: int
    total_bytes: int = Field(description="Every file of the model together; 0 until known.")
    model: str | None = Field(description="The catalog name once added; use it with PUT active.")
    error: str | None = Field(description="Why it failed, saying what to do.")
    error_code: str | None

    @classmethod
    def from_job(cls, job: PullJob) -> PullObject:
        """The API's view of a pull."""
        return cls(
            id=job.id,
            source=job.source,
            state=job.state,
            stage=job.stage,
            file=job.file,
            done_bytes=job.done_bytes,
            total_bytes=job.total_bytes,
            model=job.model,
            error=job.error,
            error_code=job.error_code,
        )


class PullList(BaseModel):
    """GET /v1/models/pulls: recent pulls, newest first."""

    data: list[PullObject]
