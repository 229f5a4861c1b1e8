"""The hub's settings: one class, read from HUB_ variables and hub.toml in the data directory."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from adapters.config import DatasetRecipe, GateMargins, TrainConfig, training_threads
from adapters.dataset import SCRUB_PII

SETTINGS_FILE_NAME = "hub.toml"
# keep, summarize:N or delete:N (N days, at most ten years).
HOUSEKEEPING_POLICY = r"^(keep|(summarize|delete):[1-9]\d{0,3})$"


def default_data_dir() -> Path:
    """Return the XDG data directory for the hub (``$XDG_DATA_HOME/walking-nas``)."""
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "walking-nas"


class Settings(BaseSettings):
    """Everything the hub can be told; the environment wins over hub.toml, arguments over both."""

    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    host: str = "127.0.0.1"
    port: int = Field(default=8484, ge=0, le=65535)
    model: str | None = Field(
        default=None, description="Model to start with; the saved choice when unset."
    )
    threads: int = Field(default_factory=lambda: os.cpu_count() or 2, ge=1)
    model_cpus: str = Field(
        default="auto",
        description="CPUs of the model's process: auto (the last `threads` ones when that leaves "
        "some for the rest of the hub), off, or a list like 1 or 2-3.",
    )
    context_length: int = Field(default=4096, ge=256, description="Upper bound on n_ctx.")
    default_max_tokens: int = Field(default=512, ge=1)
    max_queue: int = Field(default=8, ge=0, description="Requests that may wait for the model.")
    parallel_slots: int | Literal["auto"] = Field(
        default="auto",
        description="Generations the model serves at once in one batch: auto (from the memory "
        "available and the model's KV cache per token, see hub/engine/slot_plan.py), or a "
        "number from 1 (one at a time) to 16.",
    )
    slot_context_length: int = Field(
        default=0,
        ge=0,
        description="Context tokens of each slot when the model serves several at once; "
        "0: context_length.",
    )
    max_loaded_models: int = Field(default=2, ge=1)
    model_stall_timeout: float = Field(
        default=600.0,
        ge=1.0,
        description="Seconds the model's process may go without a word (loading, a prompt's "
        "prefill, the next piece) before it is killed and started again.",
    )
    max_body_bytes: int = Field(default=2_000_000, ge=1024)
    import_max_bytes: int = Field(
        default=8 << 30,
        ge=1024,
        description="The largest export file the Devices page may upload for an import "
        "(written to the data directory while it is read, then deleted).",
    )
    require_token: bool = Field(
        default=True, description="Only on loopback may this be turned off."
    )
    allowed_hosts: str = Field(
        default="",
        description="Comma list of extra names the hub answers to (beyond IP addresses, "
        "localhost and this machine's name); * answers to any name.",
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma list of proxy addresses whose X-Forwarded-For and -Proto are "
        "believed; empty: none.",
    )
    sign_in_global_free_failures: int = Field(
        default=10,
        ge=1,
        description="Wrong passphrases from all clients together (forgotten after ten quiet "
        "minutes) before every sign-in waits.",
    )
    max_connections: int = Field(
        default=2048,
        ge=0,
        description="Open connections (WebSockets and idle keep-alives too) beyond which new "
        "requests are answered 503; 0: no limit.",
    )
    memory_enabled: bool = Field(default=True, description="Remember, retrieve and cite.")
    memory_embedding_model: Path | None = Field(
        default=None, description="A sentence-transformers folder; the packaged MiniLM if unset."
    )
    memory_embedding_threads: int = Field(
        default=1, ge=1, description="torch threads for embeddings; more slows the chat model."
    )
    memory_context_tokens: int = Field(
        default=400, ge=0, description="Most prompt tokens a chat turn spends on memories."
    )
    memory_context_items: int = Field(
        default=1,
        ge=1,
        le=20,
        description="Most memories a chat turn gives the model; the small default model answers "
        "best from one, a larger model may use more.",
    )
    memory_min_similarity: float = Field(
        default=0.35, ge=-1.0, le=1.0, description="Weakest match a chat turn is given."
    )
    memory_personal_min_similarity: float = Field(
        default=0.25,
        ge=-1.0,
        le=1.0,
        description="Weakest match a question about the person (my, I, we, Dad) is given: the "
        "model knows nothing of the person on its own, so a weak memory beats none.",
    )
    memory_general_min_similarity: float = Field(
        default=0.38,
        ge=-1.0,
        le=1.0,
        description="Weakest match a question neither about the person nor naming anything the "
        "memory names is given: a general question ('How many minutes are in an hour?') is "
        "better answered without a note that only just passes memory_min_similarity.",
    )
    memory_store_messages: bool = Field(
        default=True, description="Keep what the person says in chat as memories."
    )
    memory_extract_facts: bool = Field(
        default=True, description="Let the model extract facts from messages when idle."
    )
    memory_housekeeping_transcript: str = Field(
        default="keep",
        pattern=HOUSEKEEPING_POLICY,
        description="What housekeeping does with old transcripts: keep (raw, forever), "
        "summarize:N (each day's transcripts older than N days become one summary) or "
        "delete:N. The Memory page's choice, once saved, wins over this.",
    )
    memory_housekeeping_image_text: str = Field(
        default="keep",
        pattern=HOUSEKEEPING_POLICY,
        description="The same for text read by the glasses (image_text).",
    )
    memory_housekeeping_grace_days: int = Field(
        default=14,
        ge=0,
        le=3650,
        description="Days the raw items a housekeeping run replaced are kept out of search "
        "before they are deleted for good; undo brings them back until then.",
    )
    memory_housekeeping_time: str = Field(
        default="04:00",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        description="Local HH:MM of the daily housekeeping run (once the model is idle).",
    )
    memory_housekeeping_model_summaries: bool = Field(
        # Off by default: the packaged 135M model invents more than it summarizes, so its
        # summaries are mostly refused after costing a generation per day; turn it on with a
        # larger model.
        default=False,
        description="Let the model write each day's summary when idle; off, or when the "
        "model is busy or absent, the summary lists what was said and when.",
    )
    device_queue_frames: int = Field(
        default=64, ge=1, description="Frames one device link may have waiting to be stored."
    )
    device_raw_retention_days: float = Field(
        default=30.0,
        ge=0,
        description="Days raw samples and media are kept after they arrive (rollups stay); "
        "0: forever.",
    )
    device_max_clock_ahead_hours: float = Field(
        default=24.0,
        gt=0,
        description="Frames timed further ahead of the hub's clock are refused (a wrong device "
        "clock).",
    )
    device_media_mb_per_day: int = Field(
        default=10_000,
        ge=0,
        description="Audio and camera MB one device may store per UTC day; over it, its frames "
        "wait on the device. 0: no quota.",
    )
    min_free_disk_mb: int = Field(
        default=500,
        ge=0,
        description="Device frames and memory writes are refused while less is free on the data "
        "directory's disk; 0: no check.",
    )
    device_handshake_timeout: float = Field(
        default=10.0, gt=0, description="Seconds a device may take to send a handshake frame."
    )
    device_dial_max_backoff: float = Field(
        default=30.0, gt=0, description="Longest pause between tries to reach a device's endpoint."
    )
    device_max_samples_per_second: float = Field(
        default=25_000, ge=0, description="Samples one device link may send a second; 0: no limit."
    )
    device_max_bytes_per_second: float = Field(
        default=8_000_000, ge=0, description="Bytes one device link may send a second; 0: no limit."
    )
    device_queue_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024 * 1024,
        description="Bytes of frames one device link may have waiting to be stored.",
    )
    device_pairing_timeout: float = Field(
        default=300.0, gt=0, description="Seconds a link may wait for the person to type its code."
    )
    device_max_waiting_to_pair: int = Field(
        default=16, ge=1, description="Links that may wait to pair at once (one per device id)."
    )
    device_max_unauthenticated_links: int = Field(
        default=128,
        ge=1,
        description="Device links still in their handshake or waiting to pair, at most, at once.",
    )
    mdns_enabled: bool = Field(default=True, description="Advertise the hub, find devices.")
    mdns_interfaces: str = Field(
        default="", description="Comma list of interface addresses for mDNS; empty: all."
    )
    personalize_enabled: bool = Field(
        default=True, description="Train a personal LoRA adapter every night when idle."
    )
    personalize_time: str = Field(
        default="03:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="Local HH:MM."
    )
    personalize_min_new_examples: int = Field(
        default=20, ge=0, description="New conversations and memories needed to run at night."
    )
    personalize_idle_seconds: float = Field(
        default=120.0, ge=0, description="Seconds without a request before a night run starts."
    )
    # The training and gate defaults are adapters' own (adapters/config.py), never repeated here.
    personalize_time_budget_minutes: float = Field(
        default=TrainConfig.time_budget_seconds / 60,
        gt=0,
        description="Training stops here and keeps its best checkpoint.",
    )
    personalize_threads: int = Field(
        default_factory=training_threads, ge=1, description="torch threads to train."
    )
    personalize_max_steps: int = Field(
        default=TrainConfig.max_steps, ge=1, description="Most training steps."
    )
    personalize_step_budget: int = Field(
        default=TrainConfig.step_budget,
        ge=0,
        description="Steps a nightly run plans for at most; 0: as many as its time allows.",
    )
    personalize_epochs: int = Field(
        default=TrainConfig.epochs, ge=1, description="Passes over the dataset."
    )
    personalize_batch_size: int = Field(
        default=TrainConfig.batch_size, ge=1, le=256, description="Examples per training step."
    )
    personalize_questions_per_fact: int = Field(
        default=DatasetRecipe.questions_per_fact,
        ge=1,
        le=200,
        description="Ways each fact about you is asked in training.",
    )
    personalize_checkpoint_steps: int = Field(
        default=TrainConfig.checkpoint_every_steps,
        ge=1,
        description="Steps between checkpoints (a killed run resumes there).",
    )
    personalize_learning_rate: float = Field(
        default=TrainConfig.learning_rate,
        gt=0,
        le=1.0,
        description="Higher learns faster and drifts further.",
    )
    personalize_anchor_weight: float = Field(
        default=TrainConfig.anchor_weight,
        ge=0,
        le=100.0,
        description="How strongly training holds the model to the base model on general text "
        "(KL divergence each step); 0: off.",
    )
    personalize_word_dropout: float = Field(
        default=TrainConfig.word_dropout,
        ge=0,
        lt=0.5,
        description="Share of a training question's tokens each step leaves out, so a fact is "
        "learned from each word it is asked with; 0: off.",
    )
    personalize_rank: int = Field(default=TrainConfig.rank, ge=1, le=256, description="LoRA rank.")
    personalize_general_margin: float = Field(
        default=GateMargins.general_max_regression,
        ge=0,
        description=(
            "Relative rise of general perplexity allowed; training keeps its weights within"
            " 0.8 times it on a general text of its own."
        ),
    )
    personalize_scrub_pii: bool = Field(
        default=SCRUB_PII,
        description="Replace phone numbers, emails and addresses before training.",
    )
    personalize_base_cache_dir: Path | None = Field(
        default=None,
        description="Where nightly jobs keep a de-quantized copy of the base model, to load it "
        "in seconds (about 4 bytes per parameter); default: cache/base-models in the data dir.",
    )
    personalize_model_questions: int = Field(
        default=50, ge=0, description="Facts per run the model writes a question for; 0: off."
    )
    personalize_cue_words: int = Field(
        default=6,
        ge=0,
        le=50,
        description="Everyday words per fact about you that the nightly run also asks it by "
        '("pulse" for a resting heart rate), chosen with the memory\'s embedding model; 0: off.',
    )
    ble_enabled: bool = Field(
        default=False,
        description="Keep the Bluetooth LE bridges added with `hub bridges ble add` connected "
        "(needs the extra `ble` and a Bluetooth adapter; off: a box may have no radio).",
    )
    voice_enabled: bool = Field(
        default=True, description="Transcribe device audio, answer spoken requests, read frames."
    )
    voice_wake_phrase: str = Field(
        default="hey hub", min_length=2, description="Said first, makes an utterance a request."
    )
    voice_conversation_gap: float = Field(
        default=120.0, gt=0, description="Seconds of silence that end a conversation."
    )
    voice_end_silence: float = Field(
        default=0.6, ge=0.1, le=5.0, description="Seconds of silence that end an utterance."
    )
    voice_push_to_talk_max_bytes: int = Field(
        default=1_920_000,
        ge=32_000,
        description="Longest push-to-talk request in bytes of 16 kHz audio (60 s); the rest of "
        "a longer hold is dropped.",
    )
    voice_audio_queue_max_bytes: int = Field(
        default=64_000_000,
        ge=1_000_000,
        description="Audio waiting to be transcribed, in bytes; past it, newer audio is stored "
        "but not transcribed.",
    )
    voice_whisper_model: Path | None = Field(
        default=None, description="A CTranslate2 Whisper folder; the packaged tiny.en if unset."
    )
    voice_threads: int = Field(
        default=2, ge=1, description="Threads for speech-to-text and OCR (one step at a time)."
    )
    voice_tts_voice: str = Field(default="en-us", description="eSpeak NG voice of replies.")
    voice_tts_rate: int = Field(default=175, ge=80, le=450, description="Words per minute.")
    voice_reply_max_tokens: int = Field(
        default=96, ge=8, description="Longest spoken answer, in tokens."
    )
    voice_ocr_enabled: bool = Field(default=True, description="Read text in glasses frames.")
    wyoming_server_port: int = Field(
        default=10300, ge=0, le=65535, description="Wyoming speech-to-text/TTS port; 0: off."
    )
    wyoming_server_host: str = Field(
        default="127.0.0.1", description="Address the Wyoming server listens on."
    )
    wyoming_max_audio_bytes: int = Field(
        default=3_840_000,
        ge=32_000,
        description="Most audio one Wyoming transcription may buffer, in bytes at 16 kHz 16-bit "
        "mono (32,000 a second; the default is two minutes).",
    )
    voice_max_waiting_transcriptions: int = Field(
        default=4, ge=1, description="Transcriptions that may wait for speech-to-text; more: busy."
    )
    wyoming_satellites_enabled: bool = Field(
        default=True, description="Find Wyoming satellites on mDNS and serve approved ones."
    )

    @field_validator("parallel_slots")
    @classmethod
    def _check_parallel_slots(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 1 <= value <= 16:
            raise ValueError("parallel_slots must be auto or a number from 1 to 16")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments first, then HUB_ variables, then hub.toml."""
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @property
    def listens_on_loopback(self) -> bool:
        """True when the hub only accepts connections from this machine."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def settings_file(self) -> Path:
        """Path of hub.toml in the data directory."""
        return self.data_dir / SETTINGS_FILE_NAME


def load_settings(**overrides: Any) -> Settings:
    """Build settings, reading hub.toml from the data directory the caller or environment names."""
    given = {key: value for key, value in overrides.items() if value is not None}
    data_dir = Path(given.get("data_dir") or Settings().data_dir).expanduser()
    given["data_dir"] = data_dir
    bound = type(
        "Settings",
        (Settings,),
        {
            "model_config": SettingsConfigDict(
                env_prefix="HUB_", extra="ignore", toml_file=data_dir / SETTINGS_FILE_NAME
            ),
            "__module__": __name__,
        },
    )
    settings: Settings = bound(**given)
    return settings
