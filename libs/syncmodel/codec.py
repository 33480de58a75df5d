"""orjson at the edges: models to bytes and back, without the stdlib json detour."""

from __future__ import annotations

from typing import TypeVar

import orjson
from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


def encode(model: BaseModel) -> bytes:
    return orjson.dumps(model.model_dump(mode="json", exclude_defaults=False))


def decode(model_type: type[M], data: bytes) -> M:
    return model_type.model_validate(orjson.loads(data))
