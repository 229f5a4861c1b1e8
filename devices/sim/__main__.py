"""`python -m devices.sim watch|cgm`: a simulated wearable that pairs with and streams to a hub."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import sys
import time
from pathlib import Path

from devices.client import DeviceClient, DeviceIdentity
from devices.discovery import (
    DEVICE_SERVICE,
    Advertiser,
    DeviceAdvert,
    find_hub,
    parse_interfaces,
)
from devices.endpoint import DeviceEndpoint
from devices.outbox import DeviceState
from devices.sim.earbuds import ReplyPlayer, stream_earbuds
from devices.sim.generators import GlucoseGenerator, WatchGenerator
from devices.sim.glasses import stream_glasses

KINDS = {
    "watch": ("SimWatch 1", ("heart_rate", "steps", "spo2", "skin_temp"), 1.0, 10),
    "cgm": ("SimCGM 1", ("glucose",), 300.0, 1),
    "earbuds": ("SimBuds 1", ("audio", "speech"), 0.1, 1),
    "glasses": ("SimGlasses 1", ("camera",), 2.0, 1),
}
# Kinds that stream media instead of sensor batches: their own loops (devices/sim/*.py).
MEDIA_STREAMS = {"earbuds": stream_earbuds, "glasses": stream_glasses}


def default_state_dir(device_id: str) -> Path:
    """Where a simulator keeps its secret and outbox ($XDG_STATE_HOME/walking-nas-sim/ID)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "walking-nas-sim" / device_id


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The simulator's command line."""
    parser = argparse.ArgumentParser(prog="python -m devices.sim", description=__doc__)
    parser.add_argument("kind", choices=sorted(KINDS), help="which wearable to simulate")
    parser.add_argument("--id", dest="device_id", help="device id (default sim-KIND-1)")
    parser.add_argument(
        "--hub", help="dial the hub at this address (default: serve an endpoint the hub dials)"
    )
    parser.add_argument(
        "--dial", action="store_true", help="find the hub by mDNS and dial it, serving nothing"
    )
    parser.add_argument("--port", type=int, default=0, help="endpoint port (default: any free)")
    parser.add_argument(
        "--interface", default="", help="mDNS interface addresses, comma list (default: all)"
    )
    parser.add_argument("--no-mdns", action="store_true", help="neither advertise nor browse")
    parser.add_argument("--state", type=Path, help="folder for the secret and unsent frames")
    parser.add_argument("--interval", type=float, help="simulated seconds between readings")
    parser.add_argument("--batch", type=int, help="readings per frame")
    parser.add_argument("--speed", type=float, default=1.0, help="simulated seconds per second")
    parser.add_argument("--frames", type=int, default=0, help="stop once N frames are acked")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    parser.add_argument("--say", action="append", help="earbuds: a sentence to speak (repeat)")
    parser.add_argument("--replies", type=Path, help="earbuds: save the hub's replies as WAV")
    return parser.parse_args(argv)


async def simulate(args: argparse.Namespace) -> int:
    """Stream until stopped (or until --frames are acknowledged)."""
    model, capabilities, interval, batch = KINDS[args.kind]
    interval = args.interval or interval
    batch = args.batch or batch
    device_id = args.device_id or f"sim-{args.kind}-1"
    interfaces = parse_interfaces(args.interface)
    hub = args.hub
    # Without --hub the device serves an endpoint, advertised by mDNS, and the hub dials it.
    serving = hub is None and not args.no_mdns and not args.dial
    if hub is None and not args.no_mdns and not serving:
        hub = await find_hub(interfaces)
        if hub is None:
            print("no hub found on mDNS; pass --hub http://HOST:PORT", file=sys.stderr)
            return 2
    state = DeviceState((args.state or default_state_dir(device_id)) / "state.db")
    identity = DeviceIdentity(device_id, args.kind, model, capabilities)
    advertiser = None if args.no_mdns else Advertiser(interfaces)
    adverts: set[asyncio.Task[None]] = set()
    address = interfaces[0] if interfaces else socket.gethostbyname(socket.gethostname())
    endpoint_port = 0  # 0 in the advert: this device dials the hub and serves nothing

    def advertise(waiting: bool) -> None:
        if advertiser is None:
            return
        advert = DeviceAdvert(device_id, args.kind, model, capabilities, waiting)
        task = asyncio.get_running_loop().create_task(
            advertiser.publish(
                DEVICE_SERVICE,
                device_id,
                address,
                endpoint_port,
                advert.properties(),
            )
        )
        adverts.add(task)
        task.add_done_callback(adverts.discard)

    def show_code(code: str) -> None:
        print(f"pairing code: {code}  (approve with: hub devices pair {device_id} --code {code})")
        sys.stdout.flush()
        advertise(True)

    client = DeviceClient(
        identity,
        state,
        hub or "http://127.0.0.1:8484",
        on_code=show_code,
        max_backoff=2.0,
        on_paired=lambda: advertise(False),
        on_speech=ReplyPlayer(args.replies),
    )
    endpoint = DeviceEndpoint(client, address if interfaces else "0.0.0.0", args.port)
    if serving:
        endpoint_port = await endpoint.start()
        print(f"serving the device link on port {endpoint_port}", file=sys.stderr)
    if await asyncio.to_thread(state.secret) is not None:
        advertise(False)
    elif serving:
        client.current_code()  # shown and advertised now: a hub dials only devices it may pair
    generator = WatchGenerator(args.seed) if args.kind == "watch" else GlucoseGenerator(args.seed)
    link = asyncio.create_task(endpoint.wait() if serving else client.run_forever())
    t = time.time()
    made, battery = 0, 100.0
    try:
        if args.kind in MEDIA_STREAMS:
            made = await MEDIA_STREAMS[args.kind](client, args)
        while not args.frames or made < args.frames:
            readings = []
            for _ in range(batch):
                t += interval
                readings.extend(generator.samples(t, interval))
            await client.send_samples(readings)
            made += 1
            if made % 60 == 0:
                battery = max(5.0, battery - 1)
                await client.send_status(t, int(battery), False)
                made += 1
            await asyncio.sleep(batch * interval / args.speed)
        while await asyncio.to_thread(state.unacked):
            await asyncio.sleep(0.05)
        print(f"done: {made} frames acknowledged (up to seq {client.acked})")
        return 0
    finally:
        link.cancel()
        await asyncio.gather(link, *adverts, return_exceptions=True)
        if advertiser is not None:
            await advertiser.close()
        await endpoint.close()
        state.close()


def main(argv: list[str] | None = None) -> int:
    """Run one simulated device."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(simulate(parse_args(argv)))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
