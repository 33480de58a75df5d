"""`im integration link --auto`: the progress it shows while the job runs (a line redrawn in
place with an ETA on a terminal, plain lines otherwise, each only when the counts move) and
the plan it prints."""

from __future__ import annotations

import io
from typing import Any

import pytest

from incident_sync.control.cli.linkauto import Progress, show
from incident_sync.syncmodel.matching import By
from incident_sync.syncstate.linkjobs import (
    AmbiguousItem,
    JobStatus,
    LinkCounts,
    LinkJob,
    PlannedPair,
)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def job(status: JobStatus, done: int, *, dry_run: bool = False) -> dict[str, Any]:
    pairs = [
        PlannedPair(incident=f"01J{n}", incident_reference=f"INC-{n}", record=f"sys{n}",
                    record_reference=f"INC00100{n:02d}", title=f"Outage {n}", by=By.TITLE,
                    result="linked" if n < done else "planned")
        for n in range(4)
    ]  # fmt: skip
    return LinkJob(
        integration="prod-snow", by=By.TITLE, since_s=86_400, dry_run=dry_run, status=status,
        counts=LinkCounts(planned=4, linked=done, done=done, ambiguous=1, unmatched=2),
        pairs=pairs,
        ambiguous=[AmbiguousItem(side="incident", id="01JX", reference="INC-9",
                                 candidates=["sysA", "sysB"])],
        unmatched_incidents=["01JU"], unmatched_records=["sysU"],
    ).model_dump(mode="json")  # fmt: skip


def test_plain_progress_lines_only_when_the_counts_move() -> None:
    out = io.StringIO()
    progress = Progress(out)
    for status, done in ((JobStatus.QUEUED, 0), (JobStatus.RUNNING, 1), (JobStatus.RUNNING, 1),
                         (JobStatus.RUNNING, 3), (JobStatus.DONE, 4)):  # fmt: skip
        progress.show(job(status, done))
    progress.end()
    lines = out.getvalue().splitlines()
    assert lines == [
        "prod-snow: queued for the reconciler",
        "prod-snow: linking 1/4 pairs: 1 linked, 0 unchanged, 0 errors; 1 ambiguous, 2 unmatched",
        "prod-snow: linking 3/4 pairs: 3 linked, 0 unchanged, 0 errors; 1 ambiguous, 2 unmatched",
        "prod-snow: done: 4/4 pairs: 4 linked, 0 unchanged, 0 errors; 1 ambiguous, 2 unmatched",
    ]
    assert "\r" not in out.getvalue() and "ETA" not in out.getvalue()


def test_on_a_terminal_one_line_is_redrawn_with_an_eta() -> None:
    out = Terminal()
    progress = Progress(out)
    progress.show(job(JobStatus.RUNNING, 1))
    progress.show(job(JobStatus.RUNNING, 2))
    progress.show(job(JobStatus.DONE, 4))
    progress.end()
    text = out.getvalue()
    assert text.count("\r\033[K") == 3 and text.endswith("\n") and text.count("\n") == 1
    assert "ETA" in text.split("\r\033[K")[2]  # while linking, from the pace so far
    assert "[##########----------] 2/4 pairs" in text.split("\r\033[K")[2]
    assert "done: 4/4" in text.split("\r\033[K")[3]


def test_the_plan_lists_pairs_ambiguous_and_unmatched(capsys: pytest.CaptureFixture[str]) -> None:
    show(job(JobStatus.DONE, 0, dry_run=True))
    out = " ".join(capsys.readouterr().out.split())
    assert "dry run: nothing linked" in out
    assert "INC-0" in out and "INC0010000" in out and "Outage 0" in out
    assert "INC-9" in out and "sysA sysB" in out
    assert "01JU" in out and "sysU" in out
