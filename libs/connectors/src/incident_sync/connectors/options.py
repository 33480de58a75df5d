"""The building blocks of a connector's options model (`ConnectorSpec.options`).

An integration's `options` are checked against its tool's model when its config is loaded
(`syncmodel.options.check_options`: strictly, unknown names refused), so a typo is a 422 at
`im integration create`, not a dead letter at the first delivery; the connector then reads
them typed through the same model (`ConnectorOptions.of`). The values keep the forms an
operator types (`--option KEY=VALUE` gives strings): a list of pairs is `"a=b,c=d"`, a number
may be given as digits. Each type's JSON schema says exactly what it accepts (the control
API's OpenAPI document shows the models, and its fuzz holds the API to them).

    class MyOptions(ConnectorOptions):
        priority_map: Annotated[Pairs, PairList(r"P[1-5]", example="High=P1")] = ()
        pages: Annotated[int, Count(1, 50)] = 5
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from incident_sync.syncmodel.config import IntegrationConfig

# Spaces spelt out rather than `\s`: the engines that check these patterns (Python here, the
# API's clients' ECMA-262) disagree on what whitespace is. Written so that no two parts can
# match the same characters (a long value must not make the match backtrack for long).
ANY_NAME = r" *[^=, ][^=,]*"


def spaced(pattern: str) -> str:
    """`pattern` with spaces allowed around it (they are dropped when read)."""
    return f" *(?:{pattern}) *"


Pairs = tuple[tuple[str, str], ...]


def _plain_defaults(schema: dict[str, Any]) -> None:
    # A list of pairs defaults to none given (the connector's own table): its Python default,
    # an empty tuple, is no value of the string the schema describes.
    for prop in schema.get("properties", {}).values():
        if prop.get("default") == []:
            del prop["default"]


class ConnectorOptions(BaseModel):
    """Base of the options models: frozen, strict, unknown names refused."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, json_schema_extra=_plain_defaults
    )

    @classmethod
    def of(cls, config: IntegrationConfig) -> Self:
        """`config.options` as this model (already checked when the config was loaded)."""
        return cls.model_validate(config.options)

    @classmethod
    def coerce(cls, options: Self | Mapping[str, object]) -> Self:
        """`options` as this model: a model as it is, a mapping validated."""
        return options if isinstance(options, cls) else cls.model_validate(dict(options))


class _ReadFirst:
    """An `Annotated` marker whose `parse` runs before the type's own validation."""

    def parse(self, value: object) -> object:
        raise NotImplementedError

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(self.parse, handler(source))


@dataclass(frozen=True)
class PairList(_ReadFirst):
    """`Annotated[Pairs, PairList(...)]`: `name=value` pairs as one string
    (`"Highest=P1,High=P2"`, spaces around either side dropped; "" or null is none), read as
    a tuple of pairs. `value` and `name`: what each may be, spaces around it included
    (regular expressions; `spaced`)."""

    value: str = ANY_NAME
    name: str = ANY_NAME
    example: str = "a=b,c=d"

    @property
    def pattern(self) -> str:
        item = f"{self.name}={self.value}"
        return f"(?:{item}(?:,{item})*)?"

    def parse(self, value: object) -> object:
        if value is None:
            return ()
        if not isinstance(value, str):
            return value  # refused by the tuple's own (strict) check: not a string
        if re.fullmatch(self.pattern, value) is None:
            raise ValueError(f"expected name=value pairs separated by commas, as {self.example}")
        out = []
        for entry in filter(None, value.split(",")):
            name, _, target = entry.partition("=")
            out.append((name.strip(" "), target.strip(" ")))
        return tuple(out)

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "anyOf": [
                {"type": "string", "pattern": f"^{self.pattern}$", "examples": [self.example]},
                {"type": "null"},
            ]
        }


@dataclass(frozen=True)
class Count(_ReadFirst):
    """`Annotated[int, Count(low, high)]`: a whole number in [low, high], given as a number
    or as its digits (`"5"`)."""

    low: int
    high: int

    def parse(self, value: object) -> object:
        if isinstance(value, str) and re.fullmatch(r"0|[1-9][0-9]{0,8}", value):
            value = int(value)
        out_of_range = isinstance(value, int) and not self.low <= value <= self.high
        if out_of_range and not isinstance(value, bool):
            raise ValueError(f"expected a number from {self.low} to {self.high}")
        return value

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        digits = "|".join(str(n) for n in range(self.low, self.high + 1))
        return {
            "anyOf": [
                {"type": "integer", "minimum": self.low, "maximum": self.high},
                {"type": "string", "pattern": f"^(?:{digits})$"},
            ]
        }
