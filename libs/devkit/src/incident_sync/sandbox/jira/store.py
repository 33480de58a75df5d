"""In-memory Jira: users, one project, a small workflow with transitions, issues, comments."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from incident_sync.sandbox.ids import now as utcnow
from incident_sync.sandbox.jira import screenfields
from incident_sync.sandbox.jira.adf import to_wiki
from incident_sync.sandbox.jira.values import (
    JiraError,
    check_doc,
    entity_properties,
    labels_of,
    summary_of,
)

JSON = dict[str, Any]

# (id, name, category key, category id, category name)
STATUSES: tuple[tuple[str, str, str, int, str], ...] = (
    ("10000", "To Do", "new", 2, "To Do"),
    ("3", "In Progress", "indeterminate", 4, "In Progress"),
    ("10001", "Done", "done", 3, "Done"),
)
PRIORITIES: tuple[tuple[str, str], ...] = (
    ("1", "Highest"),
    ("2", "High"),
    ("3", "Medium"),
    ("4", "Low"),
    ("5", "Lowest"),
)
RESOLUTIONS: tuple[tuple[str, str], ...] = (
    ("10000", "Done"),
    ("10001", "Won't Do"),
    ("10002", "Duplicate"),
)
# (id, name, from status ids (empty = global), to status id, needs a resolution)
TRANSITIONS: tuple[tuple[str, str, tuple[str, ...], str, bool], ...] = (
    ("11", "To Do", ("3",), "10000", False),
    ("21", "Start Progress", ("10000",), "3", False),
    ("31", "Resolve", ("10000", "3"), "10001", True),
    ("41", "Reopen", ("10001",), "10000", False),
)
ISSUE_TYPES: tuple[tuple[str, str], ...] = (("10001", "Incident"), ("10002", "Task"))


def account_id(email: str) -> str:
    """A stable Atlassian-style accountId for an e-mail address."""
    return "5b10a2844c2016570" + hashlib.sha256(email.encode()).hexdigest()[:7]


@dataclass
class User:
    email: str
    display_name: str
    account_id: str


# The entity property Jira Service Management reads a comment's visibility from: `{"internal":
# true}` is a note for agents only; without it (or `false`) the comment is public, shown on
# the portal and mailed to the customer.
PUBLIC_COMMENT_PROPERTY = "sd.public.comment"


@dataclass
class Comment:
    id: str
    author: str  # accountId
    body: JSON  # ADF
    created: datetime
    updated: datetime
    update_author: str
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def internal(self) -> bool:
        value = self.properties.get(PUBLIC_COMMENT_PROPERTY)
        return isinstance(value, dict) and value.get("internal") is True


@dataclass
class Issue:
    id: str
    key: str
    summary: str
    description: JSON | None
    status_id: str
    priority_id: str
    assignee: str | None
    reporter: str
    issue_type: str
    labels: list[str]
    created: datetime
    updated: datetime
    resolution_id: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    comments: list[Comment] = field(default_factory=list)
    # The screen's other fields (`screenfields`): field id -> stored value.
    screen: dict[str, Any] = field(default_factory=dict)


class JiraStore:
    def __init__(self, project_key: str, users: list[User]) -> None:
        self.project_key = project_key
        self.project_id = "10000"
        self.users = {u.account_id: u for u in users}
        self.issues: dict[str, Issue] = {}
        self.api_writes: Counter[str] = Counter()
        self.api_write_log: list[JSON] = []
        self._next_issue = 10000
        self._next_comment = 10000
        self._next_number = 1

    def reset(self) -> None:
        self.issues.clear()
        self.api_writes.clear()
        self.api_write_log.clear()
        self._next_number = 1

    def record_api_write(self, issue_id: str, op: str) -> None:
        self.api_writes[issue_id] += 1
        self.api_write_log.append({"id": issue_id, "op": op})

    # -- lookups -----------------------------------------------------------------------
    def get(self, id_or_key: str) -> Issue | None:
        if id_or_key in self.issues:
            return self.issues[id_or_key]
        return next((i for i in self.issues.values() if i.key == id_or_key.upper()), None)

    def user_by_email(self, email: str) -> User | None:
        wanted = email.strip().lower()
        return next((u for u in self.users.values() if u.email.lower() == wanted), None)

    @staticmethod
    def status(status_id: str) -> tuple[str, str, str, int, str]:
        return next(s for s in STATUSES if s[0] == status_id)

    @staticmethod
    def priority_id(ref: object) -> str:
        if isinstance(ref, dict):
            for pid, name in PRIORITIES:
                if ref.get("id") == pid or ref.get("name") == name:
                    return pid
        raise JiraError(errors={"priority": "The priority selected is invalid."})

    def assignee_id(self, ref: object) -> str | None:
        if ref is None:
            return None
        if isinstance(ref, dict):
            account = ref.get("accountId", ref.get("id"))
            if account is None and "accountId" in ref:
                return None
            if isinstance(account, str) and account in self.users:
                return account
        raise JiraError(errors={"assignee": "Specify a valid value for assignee"})

    def available_transitions(
        self, issue: Issue
    ) -> list[tuple[str, str, tuple[str, ...], str, bool]]:
        return [t for t in TRANSITIONS if not t[2] or issue.status_id in t[2]]

    # -- writes --------------------------------------------------------------------------
    def _touch(self, issue: Issue) -> None:
        # `updated` moves on every change, even two within one millisecond
        issue.updated = max(utcnow(), issue.updated + timedelta(milliseconds=1))

    def create(self, fields: JSON, reporter: str) -> Issue:
        summary = summary_of(fields.get("summary"))
        project = fields.get("project")
        if not isinstance(project, dict) or (
            project.get("key") != self.project_key and project.get("id") != self.project_id
        ):
            raise JiraError(errors={"project": "Specify a valid project ID or key"})
        issue_type = fields.get("issuetype")
        type_id = None
        if isinstance(issue_type, dict):
            type_id = next(
                (
                    t
                    for t, n in ISSUE_TYPES
                    if issue_type.get("id") == t or issue_type.get("name") == n
                ),
                None,
            )
        if type_id is None:
            raise JiraError(errors={"issuetype": "Specify an issue type"})
        description = fields.get("description")
        check_doc("description", description)
        labels = labels_of(fields.get("labels", []))
        screen = self._screen(type_id, fields, create=True)
        at = utcnow()
        issue = Issue(
            id=str(self._next_issue),
            key=f"{self.project_key}-{self._next_number}",
            summary=summary,
            description=description,
            status_id=STATUSES[0][0],
            priority_id=self.priority_id(fields["priority"]) if "priority" in fields else "3",
            assignee=self.assignee_id(fields.get("assignee")),
            reporter=reporter,
            issue_type=type_id,
            labels=labels,
            created=at,
            updated=at,
            screen=screen,
        )
        self._next_issue += 1
        self._next_number += 1
        self.issues[issue.id] = issue
        return issue

    def edit(self, issue: Issue, fields: JSON) -> list[JSON]:
        """Apply an edit; returns the changelog items of what really changed."""
        for name in fields:
            own = ("summary", "description", "priority", "assignee", "labels")
            if name not in own and name not in screenfields.kept(issue.issue_type):
                raise screenfields.unknown(name)
        screen = self._screen(issue.issue_type, fields, create=False)
        items: list[JSON] = []
        if "summary" in fields:
            summary = summary_of(fields["summary"])
            if summary != issue.summary:
                items.append(_item("summary", None, issue.summary, None, summary))
                issue.summary = summary
        if "description" in fields:
            description = fields["description"]
            check_doc("description", description)
            if description != issue.description:
                items.append(
                    _item(
                        "description", None, to_wiki(issue.description), None, to_wiki(description)
                    )
                )
                issue.description = description
        if "priority" in fields:
            pid = self.priority_id(fields["priority"])
            if pid != issue.priority_id:
                old, new = dict(PRIORITIES)[issue.priority_id], dict(PRIORITIES)[pid]
                items.append(_item("priority", issue.priority_id, old, pid, new))
                issue.priority_id = pid
        if "assignee" in fields:
            account = self.assignee_id(fields["assignee"])
            if account != issue.assignee:
                old_user = self.users.get(issue.assignee or "")
                new_user = self.users.get(account or "")
                items.append(
                    _item(
                        "assignee",
                        issue.assignee,
                        old_user.display_name if old_user else None,
                        account,
                        new_user.display_name if new_user else None,
                    )
                )
                issue.assignee = account
        if "labels" in fields:
            labels = labels_of(fields["labels"])
            if labels != issue.labels:
                items.append(_item("labels", None, " ".join(issue.labels), None, " ".join(labels)))
                issue.labels = labels
        for name, value in screen.items():
            before = issue.screen.get(name, [] if name in screenfields.LISTS else None)
            if value != before:
                items.append(screenfields.changelog_item(name, before, value, self._display_name))
                issue.screen[name] = value
        if items:
            self._touch(issue)
        return items

    def _display_name(self, account: str) -> str | None:
        user = self.users.get(account)
        return user.display_name if user else None

    def _screen(self, issue_type: str, fields: JSON, *, create: bool) -> dict[str, Any]:
        """The stored values of the body's screen fields kept beyond the own columns. A create
        ignores the other fields it does not keep, as before, except custom fields: one on no
        screen of the issue type is refused, as Jira does."""
        kept = screenfields.kept(issue_type)
        out: dict[str, Any] = {}
        for name, value in fields.items():
            if name in kept:
                out[name] = screenfields.parse(name, value, lambda a: a in self.users)
            elif create and name.startswith("customfield_"):
                raise screenfields.unknown(name)
        return out

    def transition(self, issue: Issue, transition_id: str, fields: JSON) -> list[JSON]:
        found = next((t for t in self.available_transitions(issue) if t[0] == transition_id), None)
        if found is None:
            raise JiraError(
                errors={
                    "transition": f"Transition id '{transition_id}' is not valid for this issue."
                }
            )
        _, _, _, to, needs_resolution = found
        resolution_id = None
        if needs_resolution:
            ref = fields.get("resolution")
            if not isinstance(ref, dict):
                raise JiraError(errors={"resolution": "Resolution is required."})
            resolution_id = next(
                (r for r, n in RESOLUTIONS if ref.get("id") == r or ref.get("name") == n), None
            )
            if resolution_id is None:
                raise JiraError(errors={"resolution": "The resolution selected is invalid."})
        items: list[JSON] = []
        if to != issue.status_id:
            old, new = self.status(issue.status_id), self.status(to)
            items.append(_item("status", old[0], old[1], new[0], new[1]))
            issue.status_id = to
        if resolution_id != issue.resolution_id:
            names = dict(RESOLUTIONS)
            items.append(
                _item(
                    "resolution",
                    issue.resolution_id,
                    names.get(issue.resolution_id or ""),
                    resolution_id,
                    names.get(resolution_id or ""),
                )
            )
            issue.resolution_id = resolution_id
        if items:
            self._touch(issue)
        return items

    def add_comment(
        self, issue: Issue, body: object, author: str, properties: object = None
    ) -> Comment:
        check_doc("comment", body, required=True)
        assert isinstance(body, dict)
        props = entity_properties(properties)
        at = utcnow()
        comment = Comment(str(self._next_comment), author, body, at, at, author, props)
        self._next_comment += 1
        issue.comments.append(comment)
        self._touch(issue)
        return comment

    def comment(self, issue: Issue, comment_id: str) -> Comment:
        found = next((c for c in issue.comments if c.id == comment_id), None)
        if found is None:
            raise JiraError("Can not find a comment for the id: " + comment_id, status=404)
        return found

    def find_comment(self, comment_id: str) -> tuple[Issue, Comment]:
        """The comment with this id on any issue (the `/comment/{id}/properties` routes)."""
        for issue in self.issues.values():
            found = next((c for c in issue.comments if c.id == comment_id), None)
            if found is not None:
                return issue, found
        raise JiraError("Can not find a comment for the id: " + comment_id, status=404)

    def update_comment(
        self, issue: Issue, comment_id: str, body: object, author: str, properties: object = None
    ) -> Comment:
        """Properties given are set; those left out keep their values (entity properties
        belong to the comment, not to one edit of it)."""
        comment = self.comment(issue, comment_id)
        check_doc("comment", body, required=True)
        assert isinstance(body, dict)
        comment.properties.update(entity_properties(properties))
        comment.body = body
        comment.update_author = author
        comment.updated = max(utcnow(), comment.updated + timedelta(milliseconds=1))
        self._touch(issue)
        return comment

    def delete_comment(self, issue: Issue, comment_id: str) -> Comment:
        comment = self.comment(issue, comment_id)
        issue.comments.remove(comment)
        self._touch(issue)
        return comment


def _item(
    field_name: str, old: str | None, old_s: str | None, new: str | None, new_s: str | None
) -> JSON:
    return {
        "field": field_name,
        "fieldtype": "jira",
        "fieldId": field_name,
        "from": old,
        "fromString": old_s,
        "to": new,
        "toString": new_s,
    }
