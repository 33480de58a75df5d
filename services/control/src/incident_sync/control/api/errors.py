"""JSON error answers: the service base's (`runtime.weberrors`, the same shape as every
service's: `{"error": "<code>", "reason": "..."}`), and the control API's own refusals.

Validation errors never echo the input back: a rejected secret must not come back in the answer.
"""

from __future__ import annotations

from pydantic import ValidationError

from incident_sync.runtime.weberrors import ApiError, error_response, json_response


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} does not exist")


def invalid(exc: ValidationError, prefix: str = "") -> ApiError:
    """422 listing what is wrong where, without the input values."""
    problems = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        where = ".".join(str(p) for p in err["loc"]) or "body"
        problems.append(f"{prefix}{where}: {err['msg'].removeprefix('Value error, ')}")
    return ApiError(422, "invalid", "; ".join(problems[:10]) or "invalid")


__all__ = ["ApiError", "error_response", "invalid", "json_response", "not_found"]
