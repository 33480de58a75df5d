"""Issues and comments as Jira answers them: REST v3 (ADF) and the webhook's v2 form (wiki)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from incident_sync.sandbox.jira import screenfields
from incident_sync.sandbox.jira.adf import to_wiki
from incident_sync.sandbox.jira.store import (
    ISSUE_TYPES,
    PRIORITIES,
    RESOLUTIONS,
    Comment,
    Issue,
    JiraStore,
)

JSON = dict[str, Any]


def jira_time(moment: datetime) -> str:
    """`2021-01-17T12:34:00.000+0000`: milliseconds and a colon-less offset."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


class Renderer:
    def __init__(self, store: JiraStore, base_url: str, version: int) -> None:
        self.store = store
        self.base = base_url.rstrip("/")
        self.version = version  # 3 = REST v3 (ADF), 2 = webhook bodies (wiki)

    def _api(self, path: str) -> str:
        return f"{self.base}/rest/api/{self.version}{path}"

    def _body(self, adf: JSON | None) -> Any:
        return adf if self.version == 3 else to_wiki(adf)

    def user(self, account_id: str | None) -> JSON | None:
        if account_id is None:
            return None
        user = self.store.users.get(account_id)
        if user is None:
            return None
        return {
            "self": self._api(f"/user?accountId={account_id}"),
            "accountId": account_id,
            "emailAddress": user.email,
            "displayName": user.display_name,
            "active": True,
            "timeZone": "Etc/UTC",
            "accountType": "atlassian",
        }

    def status(self, status_id: str) -> JSON:
        sid, name, key, cat_id, cat_name = self.store.status(status_id)
        colors = {"new": "blue-gray", "indeterminate": "yellow", "done": "green"}
        return {
            "self": self._api(f"/status/{sid}"),
            "description": "",
            "iconUrl": f"{self.base}/images/icons/statuses/generic.png",
            "name": name,
            "id": sid,
            "statusCategory": {
                "self": self._api(f"/statuscategory/{cat_id}"),
                "id": cat_id,
                "key": key,
                "colorName": colors[key],
                "name": cat_name,
            },
        }

    def priority(self, priority_id: str) -> JSON:
        name = dict(PRIORITIES)[priority_id]
        return {
            "self": self._api(f"/priority/{priority_id}"),
            "iconUrl": f"{self.base}/images/icons/priorities/{name.lower()}.svg",
            "name": name,
            "id": priority_id,
        }

    def comment(self, issue: Issue, comment: Comment, expand: frozenset[str] = frozenset()) -> JSON:
        """`expand` may name `properties` (the comment's entity properties)."""
        out: JSON = {
            "self": self._api(f"/issue/{issue.id}/comment/{comment.id}"),
            "id": comment.id,
            "author": self.user(comment.author),
            "body": self._body(comment.body),
            "updateAuthor": self.user(comment.update_author),
            "created": jira_time(comment.created),
            "updated": jira_time(comment.updated),
            # The project is a service desk: an internal comment is not on the portal.
            "jsdPublic": not comment.internal,
        }
        if "properties" in expand:
            out["properties"] = [{"key": k, "value": v} for k, v in comment.properties.items()]
        return out

    def fields(self, issue: Issue, wanted: set[str] | None = None) -> JSON:
        names = dict(ISSUE_TYPES)
        resolution = None
        if issue.resolution_id is not None:
            resolution = {
                "self": self._api(f"/resolution/{issue.resolution_id}"),
                "id": issue.resolution_id,
                "name": dict(RESOLUTIONS)[issue.resolution_id],
                "description": "",
            }
        all_fields: JSON = {
            "summary": issue.summary,
            "description": self._body(issue.description),
            "status": self.status(issue.status_id),
            "priority": self.priority(issue.priority_id),
            "assignee": self.user(issue.assignee),
            "reporter": self.user(issue.reporter),
            "creator": self.user(issue.reporter),
            "labels": list(issue.labels),
            "issuetype": {
                "self": self._api(f"/issuetype/{issue.issue_type}"),
                "id": issue.issue_type,
                "name": names[issue.issue_type],
                "subtask": False,
            },
            "project": {
                "self": self._api(f"/project/{self.store.project_id}"),
                "id": self.store.project_id,
                "key": self.store.project_key,
                "name": "Incident Desk",
                "projectTypeKey": "service_desk",
            },
            "resolution": resolution,
            "resolutiondate": jira_time(issue.updated) if resolution else None,
            "created": jira_time(issue.created),
            "updated": jira_time(issue.updated),
            "statuscategorychangedate": jira_time(issue.updated),
            "comment": {
                "comments": [self.comment(issue, c) for c in issue.comments],
                "maxResults": len(issue.comments),
                "total": len(issue.comments),
                "startAt": 0,
            },
        }
        for name in screenfields.kept(issue.issue_type):
            all_fields[name] = screenfields.render(
                name, issue.screen.get(name), self._api, self.user
            )
        if wanted is None or "*all" in wanted or "*navigable" in wanted:
            return all_fields
        return {k: v for k, v in all_fields.items() if k in wanted}

    def issue(self, issue: Issue, wanted: set[str] | None = None) -> JSON:
        return {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog",
            "id": issue.id,
            "self": self._api(f"/issue/{issue.id}"),
            "key": issue.key,
            "fields": self.fields(issue, wanted),
        }
