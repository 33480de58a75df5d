"""Checking an integration's `options` against its tool's options model, naming each option at
fault and never quoting a value (an option may hold something secret-like)."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ValidationError


def check_options(tool: str, model: type[BaseModel], options: Mapping[str, object]) -> None:
    """Raise ValueError unless `options` validates against `model` (strictly: a number where
    a string is wanted is refused, not converted). The message lists the unknown names
    together (`not an option of <tool>: a, b (known: ...)`), then each bad value by name."""
    try:
        model.model_validate(dict(options), strict=True)
    except ValidationError as exc:
        unknown: list[str] = []
        bad: list[str] = []
        for err in exc.errors(include_url=False, include_input=False, include_context=False):
            name = ".".join(str(p) for p in err["loc"]) or "options"
            if err["type"] == "extra_forbidden":
                unknown.append(name)
            else:
                bad.append(f"{name}: {err['msg'].removeprefix('Value error, ')}")
        problems = []
        if unknown:
            names = ", ".join(sorted(model.model_fields)) or "none"
            problems.append(
                f"not an option of {tool}: {', '.join(sorted(unknown))} (known: {names})"
            )
        raise ValueError("; ".join(problems + bad)) from None
