"""A model child process that misbehaves on purpose (for the watchdog tests): it speaks the
child's side of hub.engine.model_process's pipe protocol, and hangs where its name says."""

from __future__ import annotations

import time
from multiprocessing.connection import Connection

from hub.engine.model_process import ModelSpec
from hub.engine.types import Prompt

HANGS_ON_LOAD = "hangs-on-load"
HANGS_MID_ANSWER = "hangs-mid-answer"


def hang() -> None:
    """Stop answering, as a wedged llama.cpp would (killed by the parent, or ended by time)."""
    time.sleep(3600)


def serve_hanging_model(conn: Connection, spec: ModelSpec) -> None:
    """Load (or hang loading), answer renders, hang after the first piece of every answer."""
    if spec.name == HANGS_ON_LOAD:
        hang()
    conn.send(("ready", spec.context_length))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        op = request[0]
        if op == "close":
            return
        if op == "generate":
            conn.send(("piece", "Hello"))
            hang()
        elif op == "render_text":
            conn.send(("ok", Prompt([1, 2, 3])))
        elif op != "cancel":
            conn.send(("error", "ValueError", f"unknown model request {op!r}"))
