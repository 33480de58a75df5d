"""The ingress's refusals: the service base's (`runtime.weberrors`), with the outcome a refused
webhook is counted under."""

from __future__ import annotations

from collections.abc import Mapping

from incident_sync.runtime.weberrors import ApiError as BaseApiError
from incident_sync.runtime.weberrors import json_response


class ApiError(BaseApiError):
    """A request refused on purpose. `outcome` is the metrics label, when it is a webhook."""

    def __init__(
        self,
        status: int,
        code: str,
        reason: str,
        *,
        outcome: str | None = None,
        headers: Mapping[str, str] | None = None,
        close: bool = False,
    ) -> None:
        super().__init__(status, code, reason, headers=headers, close=close)
        self.outcome = outcome


__all__ = ["ApiError", "json_response"]
