"""Request bodies and answers of the /v1/personalization endpoints, as /docs shows them."""

from __future__ import annotations

from dataclasses import asdict
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from adapters.dataset import Dataset
from hub.personalization.status import AdapterListing


class RunBody(BaseModel):
    """POST /v1/personalization/runs."""

    model_config = ConfigDict(extra="forbid")

    force: bool = Field(default=True, description="Run even with little new data.")


class LearningBody(BaseModel):
    """PUT /v1/personalization/conversations/{id}."""

    model_config = ConfigDict(extra="forbid")

    learn: bool


class FeedbackBody(BaseModel):
    """PUT /v1/personalization/messages/{id}."""

    model_config = ConfigDict(extra="forbid")

    rating: Literal["good", "bad"] | None = None
    edited_content: str | None = Field(default=None, min_length=1, max_length=20_000)


class RunProgressOut(BaseModel):
    """The training run going on."""

    model_config = ConfigDict(from_attributes=True)

    job: str = Field(description="The job folder's name under adapters/jobs.")
    started_at: float = Field(description="Unix seconds.")
    resumed: bool = Field(description="It carries on from a killed run's checkpoint.")
    phase: str = Field(
        description="The newest progress event (starting, loading, evaluating, answering, "
        "training, step, checkpoint, exporting, done, error)."
    )
    step: int = Field(description="Optimizer steps done.")
    total_steps: int | None = Field(description="Steps planned; null before the first step.")
    eta_seconds: float | None = Field(description="Seconds of training left, estimated.")
    tokens_per_second: float | None
    losses: list[float] = Field(description="The training loss after each step so far.")
    pid: int | None = Field(description="The training child's process id.")
    answered: int | None = Field(
        default=None,
        description="While answering the held-out questions (phase answering): how many so far.",
    )
    questions: int | None = Field(
        default=None, description="While answering: how many held-out questions there are."
    )


class OutcomeOut(BaseModel):
    """How the last run this hub started (or skipped) ended."""

    model_config = ConfigDict(from_attributes=True)

    status: str = Field(description="promoted, rejected, failed, killed or skipped.")
    message: str


class LastRunOut(BaseModel):
    """The last finished run, by this hub or the CLI."""

    model_config = ConfigDict(from_attributes=True)

    finished_at: float = Field(description="Unix seconds.")
    status: str = Field(description="promoted, rejected, failed or killed.")
    message: str
    version: str | None = Field(description="The adapter it made, if it made one.")
    job: str


class ScheduleOut(BaseModel):
    """When the nightly run happens."""

    model_config = ConfigDict(from_attributes=True)

    enabled: bool
    time: str = Field(description="HH:MM, the hub's local time.")
    min_new_examples: int = Field(
        description="A nightly run is skipped with fewer new conversations or memories."
    )


class PersonalizationStatusOut(BaseModel):
    """The run going on, how the last one ended, the model served and the schedule."""

    model_config = ConfigDict(from_attributes=True)

    running: RunProgressOut | None = Field(description="null when no run is going on.")
    last_outcome: OutcomeOut | None = Field(description="null until this hub starts a run.")
    last_run: LastRunOut | None = Field(description="null before the first run.")
    model: str = Field(description="The catalog model served now.")
    schedule: ScheduleOut


class DatasetSummaryOut(BaseModel):
    """What went into a dataset."""

    model_config = ConfigDict(from_attributes=True)

    train_examples: int
    held_out_examples: int = Field(description="Kept apart to judge the adapter by.")
    by_source: dict[str, int] = Field(
        description="Examples by source: conversation, fact, note, transcript."
    )
    preferred: int = Field(description="Answers the person rated good or corrected.")
    duplicates_dropped: int
    excluded_conversations: int = Field(description="Conversations the person kept out.")
    scrubbed: bool = Field(description="Personal identifiers were masked.")
    sha256: str = Field(description="Identifies the examples, to tell datasets apart.")


class TrainingExampleOut(BaseModel):
    """One question and the answer the model should learn to give."""

    model_config = ConfigDict(from_attributes=True)

    prompt: str
    answer: str
    source: str = Field(description="conversation, fact, note or transcript.")
    source_id: str = Field(description="The conversation or memory it was made from.")
    preferred: bool = Field(description="The person rated the answer good or corrected it.")
    expect: str = Field(description="A short piece a correct answer contains; empty if unknown.")


class DatasetPreviewOut(BaseModel):
    """What a run would learn from now."""

    summary: DatasetSummaryOut
    train: list[TrainingExampleOut] = Field(description="The first training examples.")
    held_out: list[TrainingExampleOut] = Field(description="The first held-out examples.")

    @classmethod
    def from_domain(cls, dataset: Dataset, first: int) -> DatasetPreviewOut:
        """The summary and the ``first`` examples of each split."""
        return cls.model_validate(
            {
                "summary": dataset.summary,
                "train": dataset.train[:first],
                "held_out": dataset.held_out[:first],
            }
        )


class StoredRecord(BaseModel):
    """Part of an adapter's meta.json, sent as the registry stored it: a record made by an
    older hub or by hand may lack fields (they are left out, not sent as null) or hold more.

    The adapters route serializes with ``exclude_unset``, which is what leaves absent fields
    out; every field here is therefore optional.
    """

    model_config = ConfigDict(extra="allow")


class AdapterDatasetOut(StoredRecord):
    """What went into the adapter's dataset."""

    train_examples: int | None = None
    held_out_examples: int | None = None
    by_source: dict[str, int] | None = Field(
        default=None, description="Examples by source: conversation, fact, note, transcript."
    )
    preferred: int | None = Field(
        default=None, description="Answers the person rated good or corrected."
    )
    duplicates_dropped: int | None = None
    excluded_conversations: int | None = None
    scrubbed: bool | None = Field(default=None, description="Personal identifiers were masked.")
    sha256: str | None = None


class ScoresOut(StoredRecord):
    """How a model scored: held-out personal questions answered right (higher is better), and
    losses and perplexity (lower is better)."""

    answered: int | None = Field(
        default=None,
        description="Held-out personal questions it answered right (judged by key terms); "
        "absent in records made before answers were judged.",
    )
    questions: int | None = Field(default=None, description="Held-out personal questions judged.")
    personal_loss: float | None = Field(
        default=None,
        description="Mean answer loss on the held-out personal questions; null when there "
        "were none.",
    )
    general_perplexity: float | None = Field(default=None, description="On a fixed general text.")
    general_questions_loss: float | None = Field(
        default=None, description="On a few fixed general questions."
    )


class ChangedAnswerOut(StoredRecord):
    """A held-out question this adapter answers differently from what was served before."""

    question: str | None = None
    expected: str | None = Field(
        default=None,
        description="What a right answer contains (or the reference answer it was judged by).",
    )
    answer: str | None = Field(default=None, description="This adapter's answer.")
    answer_before: str | None = Field(default=None, description="The answer of what was served.")


class AdapterMetricsOut(StoredRecord):
    """The adapter's scores, those of what was served when it was made, and examples of
    questions whose verdict changed."""

    candidate: ScoresOut | None = None
    current: ScoresOut | None = None
    now_answered: list[ChangedAnswerOut] | None = Field(
        default=None, description="A few questions it answers right that were missed before."
    )
    now_missed: list[ChangedAnswerOut] | None = Field(
        default=None, description="A few questions answered right before that it misses."
    )


class GateDecisionOut(StoredRecord):
    """Whether the adapter passed the gate, and why."""

    passed: bool | None = None
    reasons: list[str] | None = None


class AdapterTrainingOut(StoredRecord):
    """How its training went."""

    steps: int | None = None
    total_steps: int | None = None
    stopped_by_budget: bool | None = Field(
        default=None, description="The time budget ended training early."
    )
    train_tokens: int | None = None
    train_seconds: float | None = None
    tokens_per_second: float | None = None
    wall_seconds: float | None = Field(
        default=None, description="The whole job: loading, evaluating, exporting."
    )


class AdapterOut(BaseModel):
    """One adapter version."""

    id: str
    created_at: float = Field(description="Unix seconds.")
    model_name: str = Field(description="The catalog model it was trained for.")
    base_sha256: str = Field(description="The hash of that model's file; it serves only there.")
    architecture: str
    passed_gate: bool
    dataset: AdapterDatasetOut
    metrics: AdapterMetricsOut
    decision: GateDecisionOut
    training: AdapterTrainingOut
    losses: list[float] = Field(description="The training loss after each step.")
    active: bool = Field(description="It is served with its base model now.")

    @classmethod
    def from_domain(cls, listing: AdapterListing) -> AdapterOut:
        """The registry's version, marked active or not (every field set, so that
        ``exclude_unset`` keeps them all)."""
        return cls.model_validate({**asdict(listing.version), "active": listing.active})


class AdapterList(BaseModel):
    """Every adapter, newest first."""

    object: Literal["list"]
    data: list[AdapterOut]


class ActiveAdapterOut(BaseModel):
    """The adapter served with the model now."""

    active: str | None = Field(description="Its version id; null for the base model alone.")


class ConversationLearningOut(BaseModel):
    """Whether the hub may learn from a conversation."""

    conversation_id: int
    learn: bool


class MessageFeedbackOut(BaseModel):
    """The person's verdict on one answer."""

    model_config = ConfigDict(from_attributes=True)

    message_id: int
    rating: Literal["good", "bad"] | None
    edited_content: str | None = Field(description="The answer it should have been.")
