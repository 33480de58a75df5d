"""`im integration backfill`: the progress it shows while the job runs (incidents settled of
those selected; a bar and an ETA on a terminal, plain lines otherwise) and its report."""

from __future__ import annotations

import io
from typing import Any

import pytest

from incident_sync.control.cli.backfill import Progress, show
from incident_sync.syncstate.backfilljobs import BackfillCounts, BackfillItem, BackfillJob
from incident_sync.syncstate.jobs import JobStatus


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def job(
    status: JobStatus, created: int, *, selected: bool = True, dry_run: bool = False
) -> dict[str, Any]:
    items = [
        BackfillItem(incident=f"01J{n}", reference=f"INC-{n}", title=f"Outage {n}",
                     result="created" if n < created else "published",
                     record=f"sys{n}" if n < created else None)
        for n in range(4)
    ]  # fmt: skip
    return BackfillJob(
        integration="prod-snow", since_s=86_400, dry_run=dry_run, status=status,
        selected=selected, items=items if selected else [],
        counts=BackfillCounts(selected=4, published=4, created=created, pending=4 - created,
                              already_linked=2, not_matching=1, closed=1),
        not_matching=["01JN"], closed=["01JC"],
    ).model_dump(mode="json")  # fmt: skip


def test_plain_progress_lines() -> None:
    out = io.StringIO()
    progress = Progress(out)
    for status, created, selected in ((JobStatus.QUEUED, 0, False), (JobStatus.RUNNING, 0, False),
                                      (JobStatus.RUNNING, 1, True), (JobStatus.RUNNING, 1, True),
                                      (JobStatus.DONE, 4, True)):  # fmt: skip
        progress.show(job(status, created, selected=selected))
    progress.end()
    assert out.getvalue().splitlines() == [
        "prod-snow: queued for the reconciler",
        "prod-snow: listing the platform's incidents",
        "prod-snow: backfilling 1/4 incidents: 4 published, 1 created, 0 failed; 2 already "
        "linked, 1 not matching, 1 closed",
        "prod-snow: done: 4/4 incidents: 4 published, 4 created, 0 failed; 2 already linked, "
        "1 not matching, 1 closed",
    ]


def test_on_a_terminal_a_bar_and_an_eta() -> None:
    out = Terminal()
    progress = Progress(out)
    progress.show(job(JobStatus.RUNNING, 1))
    progress.show(job(JobStatus.RUNNING, 2))
    progress.end()
    drawn = out.getvalue().split("\r\033[K")
    assert "[##########----------] 2/4 incidents" in drawn[2] and "ETA" in drawn[2]


def test_the_report_lists_each_incident(capsys: pytest.CaptureFixture[str]) -> None:
    show(job(JobStatus.DONE, 3))
    out = " ".join(capsys.readouterr().out.split())
    assert "INC-0" in out and "Outage 0" in out and "sys0" in out and "published" in out
    assert "01JN" in out and "01JC" in out
    show(job(JobStatus.DONE, 0, dry_run=True))
    assert "dry run: nothing created" in capsys.readouterr().out
