"""A Jira issue read as canonical fields: shared by webhook parsing and `fetch`. Pure.

- title <- `summary`; description <- `description` (ADF in REST v3, wiki in webhooks);
- status <- the status's category: `done` is closed, `new` / `indeterminate` are open (status
  names are per workflow, categories are fixed by Jira). Payloads without a category (Jira
  Server) fall back to the status name against `closed_statuses`;
- priority <- the priority's name through the priority map (default Highest/High/Medium/Low/
  Lowest and the older Blocker/Critical/Major/Minor/Trivial -> P1..P5);
- assignee <- the assignee's e-mail address (lower-cased), None when unassigned. Jira Cloud
  hides the address of users whose profile keeps it private: such an assignee is not mapped;
- severity <- the option value of the custom field named by the `severity_field` option;
- comment <- the newest comment (REST reads only; webhooks carry comments as comment events).
Wrong types follow `connectors.jsonshape`: a summary, description or comment body that is not
text (a string, or an ADF document) is refused (`WrongShape`, 422); a status, priority, user
or severity option of another shape is ignored (absent), never read as cleared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from incident_sync.connectors import canonical as names
from incident_sync.connectors.jira.adf import body_text
from incident_sync.connectors.jira.options import JiraOptions
from incident_sync.connectors.jsonshape import WrongShape, claimed_id, text
from incident_sync.syncmodel.fields import Status

DONE_CATEGORY: Final = "done"
DEFAULT_CLOSED_STATUSES: Final = ("done", "resolved", "closed", "canceled", "cancelled")
# Outbound: the first name for each canonical priority; inbound: every name listed.
DEFAULT_PRIORITIES: Final = (
    ("Highest", "P1"),
    ("High", "P2"),
    ("Medium", "P3"),
    ("Low", "P4"),
    ("Lowest", "P5"),
    ("Blocker", "P1"),
    ("Critical", "P2"),
    ("Major", "P3"),
    ("Minor", "P4"),
    ("Trivial", "P5"),
)
CORRELATION_LABEL_PREFIX: Final = "incident-sync-"


@dataclass(frozen=True)
class JiraFieldMap:
    """The per-integration value maps (from the connector options)."""

    priorities: tuple[tuple[str, str], ...] = DEFAULT_PRIORITIES
    closed_statuses: tuple[str, ...] = DEFAULT_CLOSED_STATUSES
    severity_field: str | None = None
    label_prefix: str = CORRELATION_LABEL_PREFIX
    _inbound: dict[str, str] = field(init=False, repr=False, compare=False)
    _outbound: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        inbound = {name.casefold(): canonical for name, canonical in self.priorities}
        outbound: dict[str, str] = {}
        for name, canonical in self.priorities:
            outbound.setdefault(canonical.casefold(), name)
        object.__setattr__(self, "_inbound", inbound)
        object.__setattr__(self, "_outbound", outbound)

    @classmethod
    def from_options(cls, options: JiraOptions | Mapping[str, object]) -> JiraFieldMap:
        options = JiraOptions.coerce(options)
        kwargs: dict[str, Any] = {}
        if options.priority_map:
            kwargs["priorities"] = options.priority_map
        if closed := options.closed_statuses:
            kwargs["closed_statuses"] = tuple(s.strip().casefold() for s in closed.split(","))
        if severity := options.severity_field:
            kwargs["severity_field"] = severity
        if prefix := options.correlation_label_prefix:
            kwargs["label_prefix"] = prefix
        return cls(**kwargs)

    # -- values ------------------------------------------------------------------------
    def priority_in(self, name: object) -> str | None:
        return self._inbound.get(name.casefold()) if isinstance(name, str) else None

    def priority_out(self, canonical: str) -> str | None:
        return self._outbound.get(canonical.casefold())

    def status_in(self, status: object) -> str | None:
        """The canonical status of a Jira status object (or a bare status name)."""
        if isinstance(status, str):
            return self.status_by_name(status)
        if not isinstance(status, Mapping):
            return None
        category = status.get("statusCategory")
        if isinstance(category, Mapping) and isinstance(category.get("key"), str):
            return Status.CLOSED.value if category["key"] == DONE_CATEGORY else Status.OPEN.value
        return self.status_by_name(status.get("name"))

    def status_by_name(self, name: object) -> str | None:
        if not isinstance(name, str) or not name:
            return None
        closed = name.casefold() in self.closed_statuses
        return Status.CLOSED.value if closed else Status.OPEN.value

    def label(self, platform_incident_id: str) -> str:
        return self.label_prefix + platform_incident_id

    def platform_incident(self, labels: object) -> str | None:
        if not isinstance(labels, list):
            return None
        for label in labels:
            if isinstance(label, str) and label.startswith(self.label_prefix):
                return claimed_id(label[len(self.label_prefix) :])
        return None

    # -- a whole issue ---------------------------------------------------------------------
    def canonical(self, fields: Mapping[str, Any], *, with_comment: bool) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        if (summary := text(fields.get("summary"), "issue.fields.summary")) is not None:
            out[names.TITLE] = summary
        if "description" in fields:
            out[names.DESCRIPTION] = body_value(fields["description"], "issue.fields.description")
        if (status := self.status_in(fields.get("status"))) is not None:
            out[names.STATUS] = status
        if (priority := self.priority_in(_name(fields.get("priority")))) is not None:
            out[names.PRIORITY] = priority
        if "assignee" in fields:
            assignee = fields["assignee"]
            if assignee is None:
                out[names.ASSIGNEE] = None
            elif (email := user_email(assignee)) is not None:
                out[names.ASSIGNEE] = email
        if self.severity_field and self.severity_field in fields:
            severity = fields[self.severity_field]
            if severity is None:
                out[names.SEVERITY] = None
            elif (option := option_value(severity)) is not None:
                out[names.SEVERITY] = option
        if with_comment and (latest := latest_comment(fields.get("comment"))) is not None:
            out[names.COMMENT] = body_value(latest.get("body"), "issue.fields.comment.body")
        return out


def body_value(body: object, where: str) -> str | None:
    """A description or comment body as text: a wiki string (webhooks, REST v2) or an ADF
    document (REST v3); None for null. Anything else is refused: read as text it would be
    empty, and clear the other side."""
    if body is None:
        return None
    if isinstance(body, str) or (isinstance(body, Mapping) and body.get("type") == "doc"):
        return body_text(body)
    raise WrongShape(where, "expected a string or an ADF document")


def _name(value: object) -> object:
    return value.get("name") if isinstance(value, Mapping) else None


def user_email(user: object) -> str | None:
    if not isinstance(user, Mapping):
        return None
    email = user.get("emailAddress")
    return email.strip().lower() if isinstance(email, str) and email.strip() else None


def user_id(user: object) -> str | None:
    if not isinstance(user, Mapping):
        return None
    account = user.get("accountId") or user.get("name")
    return account if isinstance(account, str) and account else None


def option_value(value: object) -> str | None:
    """A select custom field's value (`{"value": "Sev 1", "id": ...}`), lower-cased."""
    if isinstance(value, Mapping) and isinstance(value.get("value"), str):
        return str(value["value"]).lower()
    if isinstance(value, str):
        return value.lower()
    return None


def latest_comment(comment_field: object) -> Mapping[str, Any] | None:
    """The newest entry of an issue's `comment` field (`{"comments": [...], ...}`)."""
    if not isinstance(comment_field, Mapping):
        return None
    comments = comment_field.get("comments")
    if not isinstance(comments, list) or not comments:
        return None
    last = comments[-1]
    return last if isinstance(last, Mapping) else None


def parse_time(value: object) -> datetime | None:
    """Jira's `2017-01-30T18:30:41.962+0100` (REST and webhooks) as an aware datetime."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = text[:-2] + ":" + text[-2:]  # +0100 -> +01:00 for fromisoformat on 3.11
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def from_epoch_ms(value: object) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        try:
            return datetime.fromtimestamp(value / 1000, UTC)
        except (OverflowError, OSError, ValueError):  # beyond the platform's time range
            return None
    return None


def version_of(moment: datetime | None) -> str | None:
    """A sortable version string: UTC with fixed microseconds, as the other connectors use."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
