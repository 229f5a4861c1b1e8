"""The base of every answer body the API declares."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ResponseModel(BaseModel):
    """An answer body. A field with a default is still always sent, so the OpenAPI schema lists
    it as required; only a field that is left out when empty (``exclude_if``) is optional."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)
