"""POST /v1/embeddings: OpenAI-compatible embeddings from the hub's embedding model."""

from __future__ import annotations

import asyncio
import base64

import numpy as np
from fastapi import APIRouter, Depends

from hub.api.deps import MemoryDep
from hub.api.errors import HubAPIError
from hub.api.memory_schemas import EmbeddingListOut, EmbeddingOut, EmbeddingsIn, EmbeddingUsage
from hub.api.scopes import require_scope

router = APIRouter(prefix="/v1", tags=["embeddings"], dependencies=[Depends(require_scope("chat"))])

MAX_INPUTS = 2048
MAX_INPUT_CHARS = 32_000


def _inputs(body: EmbeddingsIn) -> list[str]:
    return checked_texts([body.input] if isinstance(body.input, str) else list(body.input))


def checked_texts(texts: list[str]) -> list[str]:
    """The texts to embed, or a 400 naming the one at fault (also for /api/embed)."""
    if not texts or len(texts) > MAX_INPUTS:
        raise HubAPIError(400, f"send 1 to {MAX_INPUTS} inputs", param="input")
    for index, text in enumerate(texts):
        if not text.strip():
            raise HubAPIError(400, f"input[{index}] is empty; send text to embed", param="input")
        if len(text) > MAX_INPUT_CHARS:
            raise HubAPIError(
                400,
                f"input[{index}] is {len(text):,} characters; send at most {MAX_INPUT_CHARS:,} "
                "(the model reads only the first 256 word pieces anyway)",
                param="input",
            )
    return texts


@router.post("/embeddings")
async def create_embeddings(body: EmbeddingsIn, memory: MemoryDep) -> EmbeddingListOut:
    """Embed text with the hub's embedding model (unit-length vectors)."""
    name = memory.embedder.name
    if body.model.lower().split("/")[-1] not in (name.lower(), "default"):
        raise HubAPIError(
            404,
            f"no embedding model {body.model!r}; this hub embeds with {name!r}",
            code="model_not_found",
            param="model",
        )
    if body.dimensions is not None and body.dimensions != memory.embedder.dimension:
        raise HubAPIError(
            400,
            f"{name} makes {memory.embedder.dimension}-dimensional vectors; leave out dimensions",
            param="dimensions",
        )
    texts = _inputs(body)
    vectors = await asyncio.to_thread(memory.embedder.embed, texts)
    count = getattr(memory.embedder, "count_tokens", None)
    tokens = sum(count(text) for text in texts) if count else sum(len(t.split()) for t in texts)
    data = []
    for index, vector in enumerate(vectors):
        encoded: list[float] | str = (
            base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
            if body.encoding_format == "base64"
            else vector.tolist()  # Python floats, each the float32's exact value
        )
        data.append(EmbeddingOut(index=index, embedding=encoded))
    return EmbeddingListOut(
        data=data,
        model=name,
        usage=EmbeddingUsage(prompt_tokens=tokens, total_tokens=tokens),
    )
