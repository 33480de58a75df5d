"""Backfill jobs (`im integration backfill`): a kind of job (`syncstate.jobs`, kind
`backfill`: keys `is:{tenant}:backfilljob:{id}`, `backfilljobs:{integration}`,
`backfilljobs:queue:{integration}`).

The reconciler saves the selection at once (the incidents to backfill, in a stable order,
and the counts of those left out), then, unless it is a dry run, its checkpoint (how many of
the selected incidents it has published) and each incident's result as the pipeline links
them, then the outcome. A reconciler that takes the integration over from one that stopped
goes on from the checkpoint.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, Field

from incident_sync.syncmodel.backfill import StatusFilter
from incident_sync.syncstate.jobs import Job, JobStore, new_job_id

LISTED: Final = 1_000  # incidents left out listed by id per reason (all are counted)

ItemResult = Literal["planned", "published", "created", "already_linked", "failed", "pending"]


class BackfillItem(BaseModel):
    """One incident selected, and what became of it."""

    incident: str
    reference: str | None = None
    title: str | None = None
    result: ItemResult = "planned"
    record: str | None = Field(None, description="the record linked to it (created)")
    error: str | None = Field(None, description="why it failed (the DLQ's reason and error)")


class BackfillCounts(BaseModel):
    selected: int = 0  # incidents to backfill
    published: int = 0  # refreshes published (the checkpoint)
    created: int = 0  # linked to a record since (made, or found by the correlation search)
    already_linked: int = 0  # linked before the job: left out (a rerun finds these)
    linked_meanwhile: int = 0  # selected, and found linked when their turn came
    not_matching: int = 0  # not matching the integration's trigger
    closed: int = 0  # closed, with the `open` filter
    detached: int = 0  # their record there was deleted (never made again)
    failed: int = 0  # the create was refused (DLQ) or could not be published
    pending: int = 0  # published and not linked when the job stopped waiting


class BackfillJob(Job):
    id: str = Field(default_factory=lambda: new_job_id("bkf"))
    status_filter: StatusFilter = StatusFilter.OPEN
    selected: bool = False  # the selection is made (a resumed job does not list again)
    counts: BackfillCounts = Field(default_factory=BackfillCounts)
    items: list[BackfillItem] = Field(default_factory=list)
    not_matching: list[str] = Field(default_factory=list)  # the first LISTED
    closed: list[str] = Field(default_factory=list)  # the first LISTED
    detached: list[str] = Field(default_factory=list)  # the first LISTED
    resumed: int = 0  # times a reconciler went on with it after another stopped
    waited_s: float | None = None  # how long it waited for the links after publishing


class BackfillJobStore(JobStore[BackfillJob]):
    kind = "backfill"
    model = BackfillJob
