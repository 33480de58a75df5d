"""Asking a side for its fields through its connector (`FieldCatalogue`): what `GET .../fields`
answers and what field maps are checked against when they are written (`fieldcheck`).

The connector is built as for the connection test and asked within the same timeout. 409:
the side cannot be asked (its tool type lists no fields, its secrets do not open, its mapping
file is gone); 502: the tool cannot be reached, does not answer in time, or refuses, with the
reason (the connector's message, which never carries a credential).
"""

from __future__ import annotations

import asyncio

import httpx
from pydantic import ValidationError

from incident_sync.connectors.base import Connector, RequestNotSent, ToolError
from incident_sync.connectors.capabilities import FieldCatalogue
from incident_sync.connectors.registry import make_connector
from incident_sync.control.api.errors import ApiError
from incident_sync.control.api.routing import Call
from incident_sync.controlstore.records import StoredSide, to_config
from incident_sync.syncmodel.config import resolve_mapping
from incident_sync.syncmodel.discovered import ToolField


def _connector(call: Call, stored: StoredSide) -> Connector:
    """The side's connector, or a 409 saying why it cannot be made."""
    try:
        config = to_config(stored, call.services.keyring)
        connector = make_connector(resolve_mapping(config, call.services.mappings.read))
    except ValidationError as exc:  # a stored config that no longer validates: no input shown
        where = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_input=False)
        )
        raise ApiError(409, "conflict", f"{stored.name} cannot be asked: {where}") from None
    except ValueError as exc:  # secrets that do not open, a mapping file gone, no connector
        raise ApiError(409, "conflict", f"{stored.name} cannot be asked: {exc}") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ApiError(409, "conflict", f"the mapping file cannot be read: {reason}") from None
    return connector


async def ask_fields(call: Call, stored: StoredSide) -> list[ToolField]:
    """The fields `stored` lists, read from its tool now (409 / 502 as above)."""
    connector = _connector(call, stored)
    timeout = call.services.settings.test_timeout_s
    try:
        if not isinstance(connector, FieldCatalogue):
            kind = stored.config.get("type")
            reason = f"a {kind} connector cannot list its tool's fields (no field catalogue)"
            raise ApiError(409, "conflict", reason)
        return await asyncio.wait_for(connector.fields(), timeout)
    except RequestNotSent as exc:  # no request could be made (credentials not configured)
        raise ApiError(409, "conflict", f"{stored.name} cannot be asked: {exc}") from None
    except ToolError as exc:
        raise ApiError(502, "bad_gateway", str(exc)) from None
    except TimeoutError:
        raise ApiError(502, "bad_gateway", f"no answer within {timeout}s") from None
    except httpx.HTTPError as exc:
        where = stored.config.get("base_url")
        raise ApiError(502, "bad_gateway", f"{type(exc).__name__}: cannot reach {where}") from None
    except ValidationError as exc:  # an answer that describes no field we can show
        problems = exc.error_count()
        raise ApiError(
            502, "bad_gateway", f"the tool's answer has {problems} field(s) of no known shape"
        ) from None
    finally:
        await connector.aclose()
