"""Wire codec: pydantic-core serializes models straight to JSON bytes; orjson reads them."""

from __future__ import annotations

from typing import TypeVar

import orjson
from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


def encode(model: BaseModel) -> bytes:
    # pydantic-core writes the JSON itself: no intermediate dict on the ingress hot path.
    return model.__pydantic_serializer__.to_json(model)


def decode(model_type: type[M], data: bytes) -> M:
    return model_type.model_validate(orjson.loads(data))
