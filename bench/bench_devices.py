"""Several simulated devices stream through the real protocol while a chat is generating.

One run starts a real hub (``python -m hub serve`` on a free loopback port, a temporary data
directory, memory and mDNS off), pairs ``--devices`` devices over real WebSocket links (hello
with its SPAKE2 message, the owner's approval through ``POST /v1/devices/{id}/pair``, the
pairing confirmation, challenge-response, the sealed welcome; every frame after it sealed with
ChaCha20-Poly1305), exactly as a device does, then runs ``--rounds`` rounds of:

1. one answer from the model with every device idle (the baseline);
2. every device streaming sensor batches at ``--rate`` samples/s (frames of ``--batch``
   samples, paced to a schedule, sent at once when behind) for ``--settle`` seconds alone
   (the hub's CPU per sample is read from /proc meanwhile), then one more answer while they go
   on streaming; streaming stops when the answer ends and every frame is waited for.

Idle and streaming answers alternate so that other load on a shared machine hits both alike; the
decode ratio is the median of the rounds' ratios. At the end the hub is stopped and devices.db
itself is counted.

Reported: sustained samples/s stored (acknowledged, i.e. committed, from the start of streaming
to the last ack), send-to-ack latency p50/p99 (from handing a frame to the WebSocket to receiving
the ack that covers it), the hub's decode tokens/s (its ``timings``) idle and streaming, and
frames and samples lost or stored twice.

Goals: >= 50,000 samples/s aggregate, p99 send-to-ack < 50 ms, decode ratio >= 0.90, nothing
lost or duplicated. The devices run in this process; on a small machine they compete with the
hub for the CPU, which real wearables would not. When the hub gives its model CPUs of its own
(``--threads`` below the number of CPUs; see hub/engine/cpu_placement.py), this process keeps to
the hub's other CPUs, as wearables keep to their own hardware; ``--devices-anywhere`` lets them
run on any CPU, the model's included.

    .venv/bin/python bench/bench_devices.py [--devices 5] [--rate 12000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

from devices.link_auth import VerifierKeys, auth_message, make_proof
from devices.link_crypto import MAX_LINK_FRAME, EphemeralKey, FrameOpener, FrameSealer, LinkKeys
from devices.pake import DevicePake
from devices.protocol import (
    Ack,
    Challenge,
    Hello,
    PairingConfirm,
    PairingOffer,
    PairingPending,
    Proof,
    Welcome,
    decode,
    encode,
)
from devices.samples import Sample, SensorBatch
from devices.sealed_connection import SealedConnection
from hub.engine.cpu_placement import (
    AUTO,
    available_cpus,
    format_cpu_list,
    pin_this_process,
    plan_placement,
)
from hub.wearables.store import DEVICES_DB_NAME

T0 = time.time() - 3600  # recent, so the hub's retention keeps every sample
ROUND_STREAM_S = 15.0  # frames encoded per round: more than an answer takes while streaming
PROMPT = "Write a long story about a lighthouse keeper who finds a message in a bottle."
KINDS = (("heart_rate", 60.0, 0.5), ("skin_temp", 33.0, 0.01), ("spo2", 96.0, 0.001))


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_hub(
    data_dir: Path, threads: int | None, model_cpus: str
) -> tuple[subprocess.Popen[bytes], str]:
    """A hub on a free loopback port; returns the process and its base address."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("HUB_")}
    env |= {"HUB_MEMORY_ENABLED": "false", "HUB_MDNS_ENABLED": "false"}
    if threads:
        env["HUB_THREADS"] = str(threads)
    env["HUB_MODEL_CPUS"] = model_cpus
    log = (data_dir.parent / "hub.log").open("wb")
    command = [sys.executable, "-m", "hub", "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--data-dir", str(data_dir), "--log-level", "warning"]
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the hub exited; see {data_dir.parent / 'hub.log'}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return process, base
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("the hub did not become healthy in 120 s")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, all its threads together."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def frame_texts(
    device: int, first_seq: int, frames: int, args: argparse.Namespace, t0: float
) -> list[str]:
    """Sensor batches this device will send, encoded ahead so sending costs no CPU: in the
    compact form a device's client sends (a series per kind) or, with ``--wire rows``, one
    object per sample."""
    texts = []
    for seq in range(first_seq, first_seq + frames):
        samples = []
        for i in range(args.batch):
            n = (seq - 1) * args.batch + i
            kind, base, step = KINDS[n % len(KINDS)]
            value = round(base + step * ((n + device) % 20), 3)
            samples.append(Sample(kind, round(t0 + n / args.rate, 6), value))
        if args.wire == "rows":
            body = {"type": "sensor_batch", "seq": seq, "samples": [s.to_wire() for s in samples]}
            texts.append(json.dumps(body, separators=(",", ":")))
        else:
            texts.append(encode(SensorBatch.of(seq, samples)))
    return texts


@dataclass
class BenchDevice:
    """One device's link and what it measured."""

    device_id: str
    ws: SealedConnection
    frames: list[str]
    batch: int
    sent: int = 0
    acked: int = 0
    sent_at: dict[int, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    last_ack_at: float = 0.0


async def pair_device(base: str, token: str, device_id: str) -> tuple[SealedConnection, int]:
    """Pair over a fresh link and keep it open, sealed as firmware would: returns the link and
    welcome's acked_seq."""
    url = base.replace("http://", "ws://") + "/v1/devices/link"
    ws = await connect(url, max_size=MAX_LINK_FRAME, proxy=None)
    nonce = secrets.token_bytes(16)
    code = f"{secrets.randbelow(10**6):06d}"
    pake = DevicePake(code, device_id)
    link_key = EphemeralKey()
    hello = Hello(
        device_id, "watch", "BenchWatch", ("heart_rate",), nonce, link_key.public, pake.message
    )
    await ws.send(encode(hello))
    assert isinstance(decode(await ws.recv()), PairingPending)
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http:
        approving = asyncio.create_task(
            http.post(f"{base}/v1/devices/{device_id}/pair", json={"code": code})
        )
        offer = decode(await ws.recv())
        assert isinstance(offer, PairingOffer)
        keys = pake.accept(offer.pake, offer.confirm)
        assert keys is not None
        await ws.send(encode(PairingConfirm(keys.device_confirm)))
        (await approving).raise_for_status()
    challenge = decode(await ws.recv())
    assert isinstance(challenge, Challenge)
    signed = auth_message(device_id, nonce, challenge.nonce, link_key.public, challenge.key)
    await ws.send(encode(Proof(make_proof(keys.secret, signed))))
    frame_keys = LinkKeys.derive(
        link_key.shared(challenge.key), VerifierKeys.from_secret(keys.secret).stored_key, signed
    )
    link = SealedConnection(
        ws, FrameSealer(frame_keys.device_to_hub), FrameOpener(frame_keys.hub_to_device)
    )
    welcome = decode(await link.recv())
    assert isinstance(welcome, Welcome)
    return link, welcome.acked_seq


async def stream(device: BenchDevice, rate_frames: float, stop: asyncio.Event) -> None:
    """Send frames on schedule (at once when behind) until ``stop`` or the frames run out."""
    start, first = time.perf_counter(), device.sent
    while not stop.is_set() and device.sent < len(device.frames):
        delay = start + (device.sent - first) / rate_frames - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        device.sent_at[device.sent + 1] = time.perf_counter()
        await device.ws.send(device.frames[device.sent])
        device.sent += 1


async def read_acks(device: BenchDevice) -> None:
    """Note the send-to-ack time of every frame an ack covers (until cancelled)."""
    while True:
        message = decode(await device.ws.recv())
        if not isinstance(message, Ack):
            raise RuntimeError(f"{device.device_id}: unexpected {message.to_wire()}")
        now = time.perf_counter()
        for seq in range(device.acked + 1, message.seq + 1):
            device.latencies.append(now - device.sent_at[seq])
        device.acked = max(device.acked, message.seq)
        device.last_ack_at = now


async def chat_rate(http: httpx.AsyncClient, max_tokens: int) -> float:
    """One answer; the hub's own decode tokens/s for it."""
    answer = await http.post(
        "/v1/chat/completions",
        json={
            "model": "smollm2-135m-instruct",
            "messages": [{"role": "user", "content": PROMPT}],
            "max_tokens": max_tokens,
            "temperature": 0,
        },
        timeout=300,
    )
    answer.raise_for_status()
    rate: float = answer.json()["timings"]["decode_tokens_per_second"]
    return rate


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def count_stored(db_path: Path, devices: list[BenchDevice]) -> tuple[int, int, int]:
    """(samples sent, lost, stored twice) according to devices.db itself."""
    expected = lost = twice = 0
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as conn:
        for device in devices:
            want = device.sent * device.batch
            rows, distinct = conn.execute(
                "SELECT count(*), (SELECT count(*) FROM (SELECT DISTINCT seq, kind, t "
                "FROM samples WHERE device_id = ?1)) FROM samples WHERE device_id = ?1",
                [device.device_id],
            ).fetchone()
            frames = conn.execute(
                "SELECT count(*) FROM frames WHERE device_id = ?", [device.device_id]
            ).fetchone()[0]
            expected += want
            lost += max(0, want - distinct) + max(0, device.sent - frames)
            twice += rows - distinct
    return expected, lost, twice


@dataclass
class Tally:
    """What the rounds measured."""

    baseline: list[float] = field(default_factory=list)
    loaded: list[float] = field(default_factory=list)
    stream_seconds: float = 0.0
    samples: int = 0
    ingest_cpu: float = 0.0
    ingest_samples: int = 0
    ran_out: bool = False


async def all_acked(devices: list[BenchDevice]) -> None:
    """Wait until every frame sent has been acknowledged."""
    async with asyncio.timeout(120):
        while any(d.acked < d.sent for d in devices):
            await asyncio.sleep(0.005)


async def one_round(
    devices: list[BenchDevice], http: httpx.AsyncClient, args: argparse.Namespace, hub_pid: int
) -> Tally:
    """A chat with the devices idle, then devices streaming alone, then a chat meanwhile."""
    for number, device in enumerate(devices):  # encoded now, not while measuring
        count = int((args.settle + ROUND_STREAM_S) * args.rate / args.batch)
        device.frames += frame_texts(number, len(device.frames) + 1, count, args, T0)
    tally = Tally(baseline=[await chat_rate(http, args.max_tokens)])
    stop = asyncio.Event()
    acked_before = sum(d.acked for d in devices)
    began, cpu = time.perf_counter(), cpu_seconds(hub_pid)
    senders = [asyncio.create_task(stream(d, args.rate / args.batch, stop)) for d in devices]
    await asyncio.sleep(args.settle)  # streaming alone: the hub's ingest cost per sample
    acked_alone = sum(d.acked for d in devices) - acked_before
    tally.ingest_cpu = cpu_seconds(hub_pid) - cpu
    tally.ingest_samples = acked_alone * args.batch
    tally.loaded.append(await chat_rate(http, args.max_tokens))
    tally.ran_out = any(d.sent == len(d.frames) for d in devices)
    stop.set()
    await asyncio.gather(*senders)
    await all_acked(devices)
    tally.stream_seconds = max(d.last_ack_at for d in devices) - began
    tally.samples = (sum(d.acked for d in devices) - acked_before) * args.batch
    return tally


async def run(args: argparse.Namespace, base: str, token: str, hub_pid: int) -> dict[str, Any]:
    """Pair, then alternate chats with the devices idle and streaming, round after round."""
    devices = []
    for number in range(args.devices):
        device_id = f"bench-{number}"
        ws, acked = await pair_device(base, token, device_id)
        assert acked == 0
        devices.append(BenchDevice(device_id, ws, [], args.batch))
    readers = [asyncio.create_task(read_acks(d)) for d in devices]
    print(f"paired {len(devices)} devices")
    total = Tally()
    ratios = []
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers) as http:
        await chat_rate(http, args.max_tokens)  # warm-up
        for number in range(args.rounds):
            tally = await one_round(devices, http, args, hub_pid)
            ratios.append(tally.loaded[0] / tally.baseline[0])
            print(
                f"round {number + 1}: decode {tally.baseline[0]:.1f} tokens/s idle, "
                f"{tally.loaded[0]:.1f} streaming; "
                f"{tally.samples / tally.stream_seconds:,.0f} samples/s stored"
                + (" (frames ran out before the answer ended)" if tally.ran_out else "")
            )
            total.baseline += tally.baseline
            total.loaded += tally.loaded
            total.stream_seconds += tally.stream_seconds
            total.samples += tally.samples
            total.ingest_cpu += tally.ingest_cpu
            total.ingest_samples += tally.ingest_samples
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    for device in devices:
        await device.ws.close()
    latencies = [lat for d in devices for lat in d.latencies]
    return {
        "devices": devices,
        "offered": args.rate * args.devices,
        "stored_per_s": total.samples / total.stream_seconds,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "baseline": statistics.median(total.baseline),
        "loaded": statistics.median(total.loaded),
        "ratio": statistics.median(ratios),
        "ingest_cpu_us_per_sample": total.ingest_cpu / max(1, total.ingest_samples) * 1e6,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The benchmark's options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=5, help="devices streaming at once")
    parser.add_argument("--rate", type=float, default=12_000, help="samples/s per device")
    parser.add_argument("--batch", type=int, default=200, help="samples per frame")
    parser.add_argument("--rounds", type=int, default=5, help="idle/streaming answer pairs")
    parser.add_argument(
        "--settle", type=float, default=1.5, help="seconds of streaming before each answer"
    )
    parser.add_argument("--max-tokens", type=int, default=160, help="tokens per answer")
    parser.add_argument("--threads", type=int, help="llama.cpp threads (the hub's default)")
    parser.add_argument(
        "--wire",
        choices=("series", "rows"),
        default="series",
        help="sensor batches as a series per kind (what the device client sends) or a JSON "
        "object per sample",
    )
    parser.add_argument(
        "--model-cpus",
        default=AUTO,
        help="the hub's model_cpus setting: auto, off (the kernel places everything), or a list",
    )
    parser.add_argument(
        "--devices-anywhere",
        action="store_true",
        help="let the simulated devices run on the model's CPUs too",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures against the goals."""
    args = parse_args(argv)
    threads = args.threads or os.cpu_count() or 1
    placement = plan_placement(args.model_cpus, threads, available_cpus())
    print(f"CPUs: {placement.describe()}")
    with tempfile.TemporaryDirectory(prefix="bench-devices-") as tmp:
        data_dir = Path(tmp) / "data"
        # The hub first: it inherits this process's CPUs, all of them until the pinning below.
        process, base = start_hub(data_dir, args.threads, args.model_cpus)
        if placement.split and not args.devices_anywhere:
            pin_this_process(placement.hub)
            print(f"the simulated devices run on CPU {format_cpu_list(placement.hub)}")
        try:
            token = (data_dir / "owner_token").read_text().strip()
            result = asyncio.run(run(args, base, token, process.pid))
        finally:
            process.terminate()
            process.wait(timeout=30)
        expected, lost, twice = count_stored(data_dir / DEVICES_DB_NAME, result["devices"])
    ratio = result["ratio"]
    print()
    print(
        f"devices: {args.devices} x {args.rate:,.0f} samples/s offered, frames of {args.batch} "
        f"samples ({args.wire})"
    )
    print(
        f"stored: {result['stored_per_s']:,.0f} samples/s sustained "
        f"(goal >= 50,000; {result['stored_per_s'] / 50_000:.2f}x the goal; "
        f"offered {result['offered']:,.0f})"
    )
    print(
        f"send-to-ack: p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms "
        f"(goal p99 < 50 ms; {result['p99_ms'] / 50:.2f}x the limit)"
    )
    print(
        f"chat decode (medians of {args.rounds} rounds): {result['loaded']:.1f} tokens/s "
        f"with devices streaming, {result['baseline']:.1f} idle: ratio {ratio:.3f} "
        "(median of the rounds' ratios; goal >= 0.90)"
    )
    print(
        f"hub CPU per sample stored, streaming alone: {result['ingest_cpu_us_per_sample']:.1f} us"
    )
    print(f"store: {expected:,} samples sent, {lost} lost, {twice} stored twice (goal 0 and 0)")
    met = (
        result["stored_per_s"] >= 50_000
        and result["p99_ms"] < 50
        and ratio >= 0.90
        and lost == 0
        and twice == 0
    )
    print("all goals met" if met else "some goals missed")
    return 0 if lost == 0 and twice == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
