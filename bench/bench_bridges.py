"""Bridges under load: a big Apple Health export and a year of CGM readings imported through a
running hub, measured against the bare parser on the same file in the same run.

One run starts a real hub (``python -m hub serve`` on a free loopback port, a temporary data
directory, memory, voice and mDNS off), writes an Apple Health ``export.zip`` of ``--records``
records (heart rate every 5 s, steps every minute, glucose every 5 min, in the Health app's
export.xml format; the writer is the import tests' own, from Apple's published DTD) and a
Dexcom Clarity CSV of ``--cgm-days`` days of 5-minute readings, then for each file:

1. the baseline: the importer alone reads the file in this process (parse, check, no store);
2. the hub: the file is uploaded to ``POST /v1/bridges/imports`` as the Devices page does, read
   and stored by the hub; the time runs from the upload's start to the import being done, and
   the hub's resident memory (VmRSS) is sampled meanwhile.

Reported: records/s of each and their ratio, the hub's resident memory growth, the readings
stored, and a second import of the same file adding nothing.

Then a Nightscout bridge is added and ``--uploads`` single-entry uploads are posted one after
another as xDrip+ posts them (``POST /api/v1/entries`` with the SHA-1 of the secret), first with
the hub idle (the baseline), then while the model writes a long chat answer; reported: the
time from sending an upload to its answer (acknowledged after commit), p50 and p99 of each.

Goals (issue 16): the Apple Health export at >= 50,000 records/s with the hub's resident memory
growing by < 300 MB; a year of 5-minute CGM readings in < 10 s; a live Nightscout upload
acknowledged in < 50 ms p99 while a chat is generating.

    .venv/bin/python bench/bench_bridges.py [--records 2000000] [--cgm-days 365] [--uploads 400]
        [--threads 1]

``--threads 1`` gives the model one CPU of its own and the rest of the hub the other, as the
README advises for a 2-core box with devices streaming.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from devices.imports.common import ImportContext
from devices.imports.formats import import_format

# The repository's root: the hub launcher of bench_devices and the import tests' file writers.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_devices import start_hub
from tests.imports_support import apple_record, write_apple_export, write_clarity

START = datetime(2023, 1, 1, tzinfo=UTC)
HEART = "HKQuantityTypeIdentifierHeartRate"
STEPS = "HKQuantityTypeIdentifierStepCount"
GLUCOSE = "HKQuantityTypeIdentifierBloodGlucose"
CHAT_PROMPT = "Write a long story about a lighthouse keeper and the ships she watches."


def apple_stamp(moment: datetime) -> str:
    """A time as the Health app writes it."""
    return moment.strftime("%Y-%m-%d %H:%M:%S +0000")


def apple_records(count: int) -> Iterator[str]:
    """``count`` records: heart rate every 5 s, steps each minute, glucose each 5 minutes."""
    made = 0
    second = 0
    while made < count:
        moment = START + timedelta(seconds=second)
        yield apple_record(HEART, str(55 + second % 60), apple_stamp(moment), unit="count/min")
        made += 1
        if second % 60 == 0 and made < count:
            end = apple_stamp(moment + timedelta(seconds=59))
            yield apple_record(STEPS, str(second % 90), apple_stamp(moment), end, unit="count")
            made += 1
        if second % 300 == 0 and made < count:
            value = str(90 + second // 300 % 80)
            yield apple_record(GLUCOSE, value, apple_stamp(moment), unit="mg/dL")
            made += 1
        second += 5


def clarity_rows(days: int) -> list[tuple[str, str]]:
    """``days`` days of 5-minute readings as Clarity writes them (local time)."""
    local = datetime(2023, 1, 1)
    return [
        ((local + timedelta(minutes=5 * n)).strftime("%Y-%m-%dT%H:%M:%S"), str(80 + n % 120))
        for n in range(days * 288)
    ]


def bare_rate(kind: str, path: Path) -> tuple[float, int]:
    """Records/s of the importer alone on ``path`` (parse and check, nothing stored)."""
    found = import_format(kind)
    started = time.perf_counter()
    readings = sum(1 for _ in found.read(path, ImportContext()))
    return readings / (time.perf_counter() - started), readings


def resident_bytes(pid: int) -> int:
    """The process's resident memory (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def hub_import(
    http: httpx.Client, pid: int, kind: str, path: Path, tz: str
) -> tuple[float, dict[str, Any], int]:
    """Upload and import through the hub: (seconds, the finished job, peak RSS growth)."""
    before = resident_bytes(pid)
    peak = before
    started = time.perf_counter()
    with path.open("rb") as body:
        made = http.post(
            "/v1/bridges/imports",
            params={"kind": kind, "file_name": path.name, "tz": tz},
            content=body,
            headers={"Content-Length": str(path.stat().st_size)},
        )
    made.raise_for_status()
    job_id = made.json()["id"]
    while True:
        peak = max(peak, resident_bytes(pid))
        job: dict[str, Any] = http.get(f"/v1/bridges/imports/{job_id}").json()
        if job["state"] in ("done", "failed"):
            break
        time.sleep(0.1)
    seconds = time.perf_counter() - started
    if job["state"] != "done":
        raise RuntimeError(f"the import failed: {job['error']}")
    return seconds, job, peak - before


def measure(http: httpx.Client, pid: int, kind: str, path: Path, tz: str) -> dict[str, Any]:
    """The baseline, the hub's import, and the hub's second import of the same file."""
    bare, readings = bare_rate(kind, path)
    seconds, job, growth = hub_import(http, pid, kind, path, tz)
    again_seconds, again, _ = hub_import(http, pid, kind, path, tz)
    return {
        "size": path.stat().st_size,
        "bare_per_s": bare,
        "readings": readings,
        "seconds": seconds,
        "hub_per_s": job["readings"] / seconds,
        "stored": job["stored"],
        "growth": growth,
        "again_stored": again["stored"],
        "again_seconds": again_seconds,
    }


def upload_latencies(
    http: httpx.Client, secret_sha1: str, start_ms: int, count: int
) -> list[float]:
    """Post ``count`` single-entry uploads one after another; each one's seconds to its answer."""
    seconds = []
    for n in range(count):
        date = start_ms + n * 300_000
        entry = {
            "type": "sgv",
            "sgv": 90 + n % 100,
            "date": date,
            "direction": "Flat",
            "device": "xDrip-DexcomG6",
            "dateString": datetime.fromtimestamp(date / 1000, UTC).isoformat(),
        }
        sent = time.perf_counter()
        answer = http.post("/api/v1/entries", json=[entry], headers={"api-secret": secret_sha1})
        seconds.append(time.perf_counter() - sent)
        answer.raise_for_status()
    return seconds


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def nightscout(http: httpx.Client, uploads: int) -> dict[str, Any]:
    """Upload latency idle, then while a long chat answer is being written."""
    made = http.post("/v1/bridges", json={"kind": "nightscout", "name": "bench"}).json()
    sha1 = hashlib.sha1(made["secret"].encode()).hexdigest()
    start_ms = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000)
    idle = upload_latencies(http, sha1, start_ms, uploads)
    answering = threading.Event()
    tokens: list[int] = []

    def chat() -> None:
        with http.stream(
            "POST",
            "/v1/chat/completions",
            json={
                "model": "smollm2-135m-instruct",
                "stream": True,
                "max_tokens": 1500,
                "temperature": 0.7,
                "messages": [{"role": "user", "content": CHAT_PROMPT}],
            },
        ) as streamed:
            for line in streamed.iter_lines():
                if line.startswith("data: {"):
                    answering.set()
                    tokens.append(1)
                    if done.is_set():
                        break

    done = threading.Event()
    writer = threading.Thread(target=chat)
    writer.start()
    answering.wait(timeout=120)
    before = len(tokens)
    loaded = upload_latencies(http, sha1, start_ms + uploads * 300_000, uploads)
    during = len(tokens) - before
    if writer.is_alive() is False:
        print(f"note: the chat answer ended during the uploads ({len(tokens)} pieces in all)")
    done.set()
    writer.join(timeout=300)
    return {"idle": idle, "loaded": loaded, "tokens_during": during}


def report(label: str, result: dict[str, Any]) -> None:
    """Print one file's figures."""
    print(
        f"{label}: {result['readings']:,} readings, {result['size'] / 1e6:.1f} MB; "
        f"importer alone {result['bare_per_s']:,.0f}/s, through the hub "
        f"{result['hub_per_s']:,.0f}/s in {result['seconds']:.1f} s: ratio "
        f"{result['hub_per_s'] / result['bare_per_s']:.3f}"
    )
    print(
        f"  stored {result['stored']:,} new; hub resident memory grew {result['growth'] / 1e6:.0f}"
        f" MB at most; the same file again stored {result['again_stored']:,} in "
        f"{result['again_seconds']:.1f} s"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The benchmark's options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=2_000_000, help="Apple Health records")
    parser.add_argument("--cgm-days", type=int, default=365, help="days of CGM readings")
    parser.add_argument("--uploads", type=int, default=400, help="Nightscout uploads per phase")
    parser.add_argument(
        "--threads", type=int, default=None, help="the hub's llama.cpp threads (default: its own)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures against the goals."""
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-bridges-") as tmp:
        folder = Path(tmp)
        print(f"writing an Apple Health export of {args.records:,} records ...", flush=True)
        apple = write_apple_export(folder / "export.zip", apple_records(args.records))
        clarity = write_clarity(folder / "clarity.csv", clarity_rows(args.cgm_days))
        data_dir = folder / "data"
        process, base = start_hub(data_dir, args.threads, "auto")
        try:
            token = (data_dir / "owner_token").read_text().strip()
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=base, headers=headers, timeout=600) as http:
                # First, while nothing else runs: the imports' sensor summaries come after them.
                live = nightscout(http, args.uploads)
                health = measure(http, process.pid, "apple-health", apple, "UTC")
                cgm = measure(http, process.pid, "dexcom-clarity", clarity, "Europe/Berlin")
        finally:
            process.terminate()
            process.wait(timeout=30)
    print()
    report("Apple Health export", health)
    report(f"Dexcom Clarity CSV, {args.cgm_days} days", cgm)
    idle_ms = [1000 * x for x in live["idle"]]
    loaded_ms = [1000 * x for x in live["loaded"]]
    p99 = percentile(loaded_ms, 99)
    print(
        f"Nightscout upload to answer: idle p50 {percentile(idle_ms, 50):.1f} ms, p99 "
        f"{percentile(idle_ms, 99):.1f} ms; while a chat was generating ({live['tokens_during']} "
        f"pieces streamed meanwhile) p50 {percentile(loaded_ms, 50):.1f} ms, p99 {p99:.1f} ms "
        f"(ratio of p99s {p99 / percentile(idle_ms, 99):.2f})"
    )
    records_per_s = args.records / health["seconds"]
    met = (
        records_per_s >= 50_000
        and health["growth"] < 300e6
        and cgm["seconds"] < 10
        and p99 < 50
        and health["again_stored"] == cgm["again_stored"] == 0
    )
    print(
        f"goals: Apple Health >= 50,000 records/s ({records_per_s:,.0f} records/s: "
        f"{records_per_s / 50_000:.2f}x) with < 300 MB growth ({health['growth'] / 300e6:.2f}x "
        f"the limit); a year of CGM in < 10 s ({cgm['seconds']:.1f} s); Nightscout p99 < 50 ms "
        f"while chatting ({p99:.1f} ms): {'all met' if met else 'some missed'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
