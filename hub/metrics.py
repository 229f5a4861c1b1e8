"""Prometheus metrics for one hub instance (its own registry: no global state)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from hub.engine.runner import ServingLoad
from hub.engine.types import GenerationStats

TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class HubMetrics:
    """Counters and gauges the hub exposes at /metrics."""

    def __init__(
        self,
        queue_depth: Callable[[], int],
        busy: Callable[[], bool],
        serving: Callable[[], ServingLoad] | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "hub_requests",
            "HTTP requests by endpoint and status code.",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.prompt_tokens = Counter(
            "hub_prompt_tokens", "Prompt tokens read.", ["model"], registry=self.registry
        )
        self.cached_prompt_tokens = Counter(
            "hub_prompt_tokens_cached",
            "Prompt tokens served from the KV cache instead of being evaluated again.",
            ["model"],
            registry=self.registry,
        )
        self.completion_tokens = Counter(
            "hub_completion_tokens", "Tokens generated.", ["model"], registry=self.registry
        )
        self.generations = Counter(
            "hub_generations",
            "Finished generations by why they ended.",
            ["model", "finish_reason"],
            registry=self.registry,
        )
        self.time_to_first_token = Histogram(
            "hub_time_to_first_token_seconds",
            "Time from the model starting on a request to its first token.",
            ["model"],
            buckets=TTFT_BUCKETS,
            registry=self.registry,
        )
        self.decode_rate = Gauge(
            "hub_decode_tokens_per_second",
            "Decode speed of the last finished generation.",
            ["model"],
            registry=self.registry,
        )
        self.decode_seconds = Counter(
            "hub_decode_seconds",
            "Time spent decoding after the first token.",
            ["model"],
            registry=self.registry,
        )
        queue = Gauge("hub_queue_depth", "Requests waiting for the model.", registry=self.registry)
        queue.set_function(lambda: float(queue_depth()))
        active = Gauge(
            "hub_model_busy", "1 while the model is serving a request.", registry=self.registry
        )
        active.set_function(lambda: 1.0 if busy() else 0.0)
        if serving is not None:
            self._serving_gauges(serving)

    def _serving_gauges(self, serving: Callable[[], ServingLoad]) -> None:
        slots = Gauge(
            "hub_model_slots", "Generations the model may serve at once.", registry=self.registry
        )
        slots.set_function(lambda: float(serving().slots))
        in_use = Gauge(
            "hub_model_slots_in_use", "Slots serving a request now.", registry=self.registry
        )
        in_use.set_function(lambda: float(serving().slots_in_use))
        batch = Gauge(
            "hub_model_batch_sequences",
            "Sequences evaluated together in the model's last decode step.",
            registry=self.registry,
        )
        batch.set_function(lambda: float(serving().batch_sequences))
        waiting = Gauge(
            "hub_queue_depth_by_priority",
            "Requests waiting for a slot, by priority (voice, chat, background).",
            ["priority"],
            registry=self.registry,
        )
        for priority in ("voice", "chat", "background"):
            waiting.labels(priority).set_function(_waiting_of(serving, priority))

    def record_generation(self, model: str, stats: GenerationStats) -> None:
        """Add one finished generation's counts."""
        self.prompt_tokens.labels(model).inc(stats.prompt_tokens)
        self.cached_prompt_tokens.labels(model).inc(stats.cached_prompt_tokens)
        self.completion_tokens.labels(model).inc(stats.completion_tokens)
        self.generations.labels(model, stats.finish_reason).inc()
        if stats.time_to_first_token is not None:
            self.time_to_first_token.labels(model).observe(stats.time_to_first_token)
        self.decode_seconds.labels(model).inc(stats.decode_seconds)
        rate = stats.decode_tokens_per_second
        if rate is not None:
            self.decode_rate.labels(model).set(rate)

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)


def _waiting_of(serving: Callable[[], ServingLoad], priority: str) -> Callable[[], float]:
    return lambda: float(serving().waiting.get(priority, 0))
