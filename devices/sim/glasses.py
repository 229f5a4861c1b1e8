"""Simulated glasses: camera frames (JPEG) of signs, screens and notes with printed text, the
same scene seen for a few frames (with a little camera shake) before the wearer looks away."""

from __future__ import annotations

import argparse
import asyncio
import io
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

from PIL import Image, ImageDraw, ImageFont

from devices.client import DeviceClient
from devices.media import MediaFrame

WIDTH, HEIGHT = 640, 360
SCENES: tuple[tuple[str, ...], ...] = (
    ("Platform 4", "Lisbon 10:45"),
    ("Pharmacy", "Open until 8 pm"),
    ("Meeting room Atlas", "Budget review at 3"),
    ("Wifi password", "orange tulip 42"),
    ("Bakery", "Sourdough 4 euros"),
)


def render_text(lines: Sequence[str], seed: int = 0, size: int = 40) -> bytes:
    """A JPEG of ``lines`` printed dark on a light background, slightly shifted by ``seed``."""
    rng = random.Random(seed)
    shade = 230 + rng.randint(-8, 8)
    image = Image.new("RGB", (WIDTH, HEIGHT), (shade, shade - 4, shade - 12))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=size)
    gap = size * 0.45  # a clear gap between words, as on printed signs
    y = 60 + rng.randint(-4, 4)
    for line in lines:
        x = 40.0 + rng.randint(-4, 4)
        for word in line.split():
            draw.text((x, y), word, fill=(25, 25, 30), font=font)
            x += draw.textlength(word, font=font) + gap
        y += int(size * 2)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


@dataclass
class GlassesCamera:
    """Looks at each scene for ``frames_per_scene`` frames, then the next one."""

    scenes: tuple[tuple[str, ...], ...] = SCENES
    frames_per_scene: int = 3
    seed: int = 1
    _count: int = field(default=0, init=False)

    def next_frame(self) -> tuple[tuple[str, ...], bytes]:
        """The scene now in view and a JPEG of it."""
        scene = self.scenes[(self._count // self.frames_per_scene) % len(self.scenes)]
        jpeg = render_text(scene, seed=self.seed * 1000 + self._count)
        self._count += 1
        return scene, jpeg


def camera_frame(seq: int, t: float, jpeg: bytes) -> MediaFrame:
    """A camera frame of the glasses' fixed frame size."""
    return MediaFrame("camera", seq, t, jpeg, width=WIDTH, height=HEIGHT)


async def stream_glasses(client: DeviceClient, args: argparse.Namespace) -> int:
    """Send a frame every --interval seconds (2 by default); returns the frames queued."""
    camera = GlassesCamera(seed=args.seed)
    interval = args.interval or 2.0
    made = 0
    while not args.frames or made < args.frames:
        _, jpeg = camera.next_frame()
        t = time.time()
        await client.send_media(partial(camera_frame, t=t, jpeg=jpeg))
        made += 1
        await asyncio.sleep(interval / args.speed)
    return made
