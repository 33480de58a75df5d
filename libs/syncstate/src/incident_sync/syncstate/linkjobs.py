"""Link jobs (`im integration link --auto`): what the control API asks of the reconciler and
what the reconciler reports back, a kind of job (`syncstate.jobs`, kind `link`: keys
`is:{tenant}:linkjob:{id}`, `linkjobs:{integration}`, `linkjobs:queue:{integration}`).

The reconciler saves the plan (pairs, ambiguous candidates, unmatched items) and, unless it is
a dry run, the progress counts as it links, then the outcome (`done` or `failed`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

from pydantic import BaseModel, Field

from incident_sync.syncmodel.matching import By, Initial
from incident_sync.syncstate.jobs import Job, JobStatus, JobStore, Requester, new_job_id

__all__ = ["JobStatus", "LinkJob", "LinkJobStore", "Requester"]

LISTED: Final = 1_000  # unmatched items listed in full per side (all are counted)


PairResult = Literal["planned", "linked", "unchanged", "taken", "failed"]


class PlannedPair(BaseModel):
    """One pair the plan found, and (once the job got to it) what linking it did."""

    incident: str
    incident_reference: str | None = None
    record: str = Field(description="the tool's id of the record (the one links name)")
    record_reference: str | None = Field(None, description="as its users know it")
    title: str | None = Field(None, description="the incident's")
    by: By
    incident_changed: datetime | None = None  # as listed (what `--initial newer` compares)
    record_changed: datetime | None = None
    result: PairResult = "planned"
    event_id: str | None = Field(None, description="the sync of the pair queued (linked)")
    error: str | None = None


class AmbiguousItem(BaseModel):
    """An incident (or record) with several candidates on the other side, or sharing its only
    one: listed, never linked."""

    side: Literal["incident", "record"]
    id: str
    reference: str | None = None
    candidates: list[str]


class LinkCounts(BaseModel):
    planned: int = 0  # pairs in the plan
    linked: int = 0
    unchanged: int = 0  # linked already when the job got to it
    ambiguous: int = 0  # incidents and records with more than one candidate
    unmatched: int = 0  # incidents and records with none
    already_linked: int = 0  # left out: linked before the job (a rerun finds these)
    errors: int = 0  # pairs not linked: taken meanwhile, a failed write or sync
    done: int = 0  # pairs handled so far (progress)


class LinkJob(Job):
    id: str = Field(default_factory=lambda: new_job_id("lnk"))
    by: By
    # Who wins each field at first link; None: the pair's first sync is a refresh of the
    # record (of the incident for an outbound-only integration), the usual rules deciding.
    initial: Initial | None = None
    counts: LinkCounts = Field(default_factory=LinkCounts)
    pairs: list[PlannedPair] = Field(default_factory=list)
    ambiguous: list[AmbiguousItem] = Field(default_factory=list)
    unmatched_incidents: list[str] = Field(default_factory=list)  # the first LISTED
    unmatched_records: list[str] = Field(default_factory=list)  # the first LISTED


class LinkJobStore(JobStore[LinkJob]):
    kind = "link"
    model = LinkJob
