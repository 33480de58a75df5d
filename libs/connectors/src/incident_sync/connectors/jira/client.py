"""Async client for the Jira Cloud platform REST API v3 (the calls incident-sync needs).

Auth is basic `email:api_token`. Bodies of descriptions and comments are ADF in v3.
Jira answers errors as `{"errorMessages": [...], "errors": {field: message}}`; 429 (and some
503) carry `Retry-After`, which the shared classification honours; a 429 without it waits for
`X-RateLimit-Reset` (an ISO 8601 time).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Final

from incident_sync.connectors.base import ToolError
from incident_sync.connectors.http import Reset, ResetHeader, ToolClient, path_id
from incident_sync.connectors.transport import body_json, json_object

API: Final = "/rest/api/3"
SEARCH_PAGE_SIZE: Final = 100
META_PAGE_SIZE: Final = 200  # the create metadata's largest page
META_MAX: Final = 10_000  # a listing that never ends is cut, not followed forever
_KEY = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")  # an issue id or key, a comment id


PUBLIC_COMMENT_PROPERTY: Final = "sd.public.comment"


def visibility(internal: bool) -> dict[str, object]:
    """The comment's JSM visibility as the entity property a create or edit body carries."""
    return {"key": PUBLIC_COMMENT_PROPERTY, "value": {"internal": internal}}


def _id(value: str) -> str:
    return path_id(_KEY, value, "Jira: not an issue or comment id")


class JiraClient(ToolClient):
    RESET_HEADERS = (ResetHeader("x-ratelimit-reset", Reset.ISO),)

    # Every call is under /rest/api/3 (the auth is bound to the origin alone).
    PATH_PREFIX = API

    def error_text(self, body: object) -> str | None:
        if not isinstance(body, dict):
            return None
        parts = [str(m) for m in body.get("errorMessages") or [] if m]
        errors = body.get("errors")
        if isinstance(errors, dict):
            parts.extend(f"{k}: {v}" for k, v in errors.items())
        return "; ".join(parts) or None

    # -- issues ----------------------------------------------------------------------------
    async def myself(self) -> dict[str, Any]:
        return await self._call("GET", "/myself")

    async def get_issue(self, key: str, fields: Sequence[str]) -> dict[str, Any]:
        return await self._call("GET", f"/issue/{_id(key)}", params={"fields": ",".join(fields)})

    async def create_issue(
        self, fields: Mapping[str, object], *, properties: Mapping[str, object] | None = None
    ) -> dict[str, Any]:
        """POST /issue -> {"id", "key", "self"}; `properties` are set in the same call."""
        body: dict[str, object] = {"fields": dict(fields)}
        if properties:
            body["properties"] = [{"key": k, "value": v} for k, v in properties.items()]
        return await self._call("POST", "/issue", json=body)

    async def edit_issue(self, key: str, fields: Mapping[str, object]) -> dict[str, Any] | None:
        """PUT /issue/{key}?returnIssue=true: the issue as stored after the edit (200), or
        None where the answer is a bare 204. Status is not a field here: use `transition`."""
        response = await self._send(
            "PUT",
            f"/issue/{_id(key)}",
            params={"notifyUsers": "false", "returnIssue": "true"},
            json={"fields": fields},
        )
        if response.status_code == 204 or not response.content:
            return None
        return json_object(response)

    async def transitions(self, key: str) -> list[dict[str, Any]]:
        data = await self._call(
            "GET", f"/issue/{_id(key)}/transitions", params={"expand": "transitions.fields"}
        )
        return [t for t in data.get("transitions") or [] if isinstance(t, dict)]

    async def transition(
        self, key: str, transition_id: str, fields: Mapping[str, object] | None = None
    ) -> None:
        body: dict[str, object] = {"transition": {"id": transition_id}}
        if fields:
            body["fields"] = dict(fields)
        await self._send("POST", f"/issue/{_id(key)}/transitions", json=body)

    async def search(
        self, jql: str, fields: Sequence[str] = ("id",), *, page_size: int = SEARCH_PAGE_SIZE
    ) -> AsyncIterator[dict[str, Any]]:
        """Every issue matching `jql` through `/search/jql`, following nextPageToken."""
        token: str | None = None
        while True:
            params: dict[str, str | int] = {
                "jql": jql,
                "fields": ",".join(fields),
                "maxResults": page_size,
            }
            if token:
                params["nextPageToken"] = token
            data = await self._call("GET", "/search/jql", params=params)
            issues = [i for i in data.get("issues") or [] if isinstance(i, dict)]
            for issue in issues:
                yield issue
            next_token = data.get("nextPageToken")
            if data.get("isLast", True) is True or not next_token or next_token == token:
                return
            token = str(next_token)

    # -- fields ------------------------------------------------------------------------------
    async def all_fields(self) -> list[dict[str, Any]]:
        """`GET /field`: every field of the site (FieldDetails: id, name, custom, schema)."""
        response = await self._send("GET", "/field")
        data = body_json(response)
        if not isinstance(data, list):
            raise ToolError("Jira listed its fields without a list", retryable=False)
        return [f for f in data if isinstance(f, dict)]

    async def create_issue_types(
        self, project: str, *, page_size: int = META_PAGE_SIZE
    ) -> list[dict[str, Any]]:
        """The issue types a create in `project` can have (`createmeta/{project}/issuetypes`,
        every page)."""
        return await self._pages(
            f"/issue/createmeta/{_id(project)}/issuetypes", "issueTypes", page_size
        )

    async def create_fields(
        self, project: str, issue_type_id: str, *, page_size: int = META_PAGE_SIZE
    ) -> list[dict[str, Any]]:
        """The create screen's fields of one issue type in `project`
        (`createmeta/{project}/issuetypes/{id}`, FieldCreateMetadata, every page)."""
        path = f"/issue/createmeta/{_id(project)}/issuetypes/{_id(issue_type_id)}"
        return await self._pages(path, "fields", page_size)

    async def _pages(self, path: str, key: str, page_size: int) -> list[dict[str, Any]]:
        """Every item under `key` of a `startAt` / `maxResults` / `total` listing."""
        found: list[dict[str, Any]] = []
        while True:
            data = await self._call(
                "GET", path, params={"startAt": len(found), "maxResults": page_size}
            )
            page = data.get(key)
            if not isinstance(page, list):
                raise ToolError(f"Jira answered {path} without {key!r}", retryable=False)
            found.extend(item for item in page if isinstance(item, dict))
            total = data.get("total")
            if not page or not isinstance(total, int) or len(found) >= min(total, META_MAX):
                return found

    # -- comments ----------------------------------------------------------------------------
    # Jira Service Management shows a comment on the portal and mails it to the customer
    # unless its `sd.public.comment` entity property says `{"internal": true}` (Atlassian's
    # documented way to write an internal comment through the platform API; the `jsdPublic`
    # of a read comment is read-only). Sent on every create and edit, so a copy keeps the
    # visibility the integration chose.
    async def add_comment(
        self, key: str, body: Mapping[str, object], *, internal: bool
    ) -> dict[str, Any]:
        payload = {"body": body, "properties": [visibility(internal)]}
        return await self._call("POST", f"/issue/{_id(key)}/comment", json=payload)

    async def update_comment(
        self, key: str, comment_id: str, body: Mapping[str, object], *, internal: bool
    ) -> dict[str, Any]:
        path = f"/issue/{_id(key)}/comment/{_id(comment_id)}"
        payload = {"body": body, "properties": [visibility(internal)]}
        return await self._call("PUT", path, params={"notifyUsers": "false"}, json=payload)

    async def delete_comment(self, key: str, comment_id: str) -> None:
        await self._send("DELETE", f"/issue/{_id(key)}/comment/{_id(comment_id)}")

    # -- users ---------------------------------------------------------------------------------
    async def find_user(self, email: str) -> str | None:
        """The accountId of the active user with this e-mail address, if any."""
        response = await self._send("GET", "/user/search", params={"query": email})
        data = body_json(response)
        if not isinstance(data, list):
            raise ToolError("Jira user search answered without a list", retryable=True)
        wanted = email.strip().lower()
        for user in data:
            if not isinstance(user, dict) or user.get("active") is False:
                continue
            address = user.get("emailAddress")
            if isinstance(address, str) and address.strip().lower() == wanted:
                account = user.get("accountId")
                return account if isinstance(account, str) else None
        return None
