"""How many requests the model serves at once: the rule of hub/engine/slot_plan.py, exactly,
on the packaged models' own metadata and on a 7B model's shape."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hub.assembly import slot_plan_for, start_slots
from hub.engine.runner import ModelRunner
from hub.engine.slot_plan import KvShape, kv_shape_of, plan_slots
from hub.models.catalog import ModelCatalog
from hub.models.gguf_info import read_gguf_metadata
from hub.settings import Settings
from tests.conftest import DEFAULT_MODEL, SECOND_MODEL
from tests.fakes import FakeChatModel

GB = 1_000_000_000
SMOLLM2 = KvShape(layers=30, kv_heads=3, key_dim=64, value_dim=64)
SMOLLM2_FILE = 100 * 1_000_000
LLAMA_7B = KvShape(layers=32, kv_heads=8, key_dim=128, value_dim=128)
LLAMA_7B_FILE = int(4.37 * GB)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> ModelCatalog:
    return ModelCatalog(tmp_path_factory.mktemp("catalog"))


def test_the_packaged_models_say_what_a_token_of_context_costs(catalog: ModelCatalog) -> None:
    smollm2 = kv_shape_of(read_gguf_metadata(catalog.path_for(DEFAULT_MODEL)))
    assert smollm2 == SMOLLM2
    assert smollm2.bytes_per_token == 23_040  # 30 layers x 3 KV heads x (64 + 64) x 2 bytes
    gemma = kv_shape_of(read_gguf_metadata(catalog.path_for(SECOND_MODEL)))
    assert gemma == KvShape(layers=18, kv_heads=1, key_dim=256, value_dim=256)
    assert gemma.bytes_per_token == 18_432


@pytest.mark.parametrize(
    ("available_gb", "slots"),
    [(22.0, 4), (2.8, 3), (2.4, 2), (2.0, 1), (1.0, 1)],
)
def test_slots_follow_the_memory_available(available_gb: float, slots: int) -> None:
    # 90 MiB per 4096-token slot; a quarter of what is left after the file and 1.5 GB.
    plan = plan_slots("auto", 0, 4096, 8192, SMOLLM2_FILE, SMOLLM2, int(available_gb * GB))
    assert (plan.slots, plan.slot_context) == (slots, 4096)


def test_a_7b_model_gets_fewer_slots_and_a_small_box_one_at_a_time() -> None:
    # 512 MiB of cache per 4096-token slot.
    assert plan_slots("auto", 0, 4096, 32768, LLAMA_7B_FILE, LLAMA_7B, 14 * GB).slots == 3
    small = plan_slots("auto", 0, 4096, 32768, LLAMA_7B_FILE, LLAMA_7B, 6 * GB)
    assert small.slots == 1 and small.reason.startswith("one at a time")
    # A shorter context per slot, when the person asks for it, makes room for more.
    assert plan_slots("auto", 1024, 4096, 32768, LLAMA_7B_FILE, LLAMA_7B, 8 * GB).slots == 3


def test_the_context_per_slot_is_the_setting_within_the_model_limit() -> None:
    assert plan_slots("auto", 0, 4096, 2048, SMOLLM2_FILE, SMOLLM2, 22 * GB).slot_context == 2048
    assert plan_slots("auto", 1024, 4096, 8192, SMOLLM2_FILE, SMOLLM2, 22 * GB).slot_context == 1024


def test_a_number_is_used_as_given_and_an_unknown_shape_serves_one_at_a_time() -> None:
    assert plan_slots(6, 0, 4096, 8192, SMOLLM2_FILE, SMOLLM2, 1 * GB).slots == 6
    assert plan_slots(1, 0, 4096, 8192, SMOLLM2_FILE, SMOLLM2, 22 * GB).slots == 1
    assert plan_slots("auto", 0, 4096, 8192, SMOLLM2_FILE, None, 22 * GB).slots == 1
    assert kv_shape_of({"general.architecture": "llama"}) is None


def test_the_settings_take_auto_or_a_number_and_say_what_is_wrong(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).parallel_slots == "auto"
    assert Settings(data_dir=tmp_path, parallel_slots="3").parallel_slots == 3
    with pytest.raises(ValueError, match="auto or a number from 1 to 16"):
        Settings(data_dir=tmp_path, parallel_slots=0)
    with pytest.raises(ValueError, match="auto"):
        Settings(data_dir=tmp_path, parallel_slots="many")


def test_the_hub_plans_its_slots_from_the_model_it_starts_with(
    catalog: ModelCatalog, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, parallel_slots=3)
    assert start_slots(settings, catalog, DEFAULT_MODEL) == 3
    plan = slot_plan_for(Settings(data_dir=tmp_path, context_length=1024), catalog, DEFAULT_MODEL)
    assert plan.slot_context == 1024 and "MiB of KV cache per slot of 1024 tokens" in plan.reason


def test_the_runner_serves_as_many_at_once_as_the_active_model_has_slots() -> None:
    class TwoSlots(FakeChatModel):
        slots = 2

    async def scenario() -> None:
        runner = ModelRunner(lambda name: TwoSlots(name), "two", max_queue=4, slots=4)
        assert runner.slots == 4
        await runner.use("two")
        assert runner.slots == 2 and runner.engine_load().slots == 2
        await runner.close()

    asyncio.run(scenario())
