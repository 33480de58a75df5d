"""`--auto` linking of 10,000 existing pairs against the sandboxes: time and requests per side.

    python -m bench.link [--pairs 10000] [--by correlation|title]

Starts a broker, a redis-server and the incident.io and ServiceNow sandboxes as child
processes (no webhooks: the records exist before installation), makes `--pairs` incidents
and as many tickets, each ticket naming its incident in the correlation column (`--by
correlation`) or carrying its title in another case and punctuation (`--by title`), then
runs the reconciler's link job (`reconciler.linker.Linker`, as `im integration link --auto`
has it run) in this process: a dry run (list both sides, match, plan), the real run (list,
match and link every pair: the link, its audit entry, its timeline entry and its first sync
published to the broker), and a rerun. It prints each run's duration, the requests each side
received and the counts. It fails unless the plan is exactly the pairs made, the real run
links them all and the rerun links nothing; the 60 s target is reported, not enforced.

Listing is in batches (ServiceNow's Table API pages of the connector's `batch_size`,
incident.io's list pages of `list_page_size`): the requests per side are the page counts.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import httpx
from redis.asyncio import Redis

from bench.reconcile import SN_PASSWORD, SN_USER, _each, config, sandbox_children
from incident_sync.controlstore.source import FileSource
from incident_sync.devstack import processes
from incident_sync.reconciler.linker import Linker
from incident_sync.reconciler.publisher import Publisher
from incident_sync.reconciler.settings import ReconcilerSettings
from incident_sync.reconciler.sides import Sides
from incident_sync.syncmodel.matching import By
from incident_sync.syncstate.linkjobs import LinkJob, LinkJobStore

TARGET_S = 60.0
DAY_S = 86_400


async def seed(io_url: str, sn_url: str, count: int, by: By) -> set[tuple[str, str]]:
    """`count` incidents and tickets, each ticket matching its incident `by` the rule; the
    pairs (incident id, sys_id)."""
    async with (
        httpx.AsyncClient(base_url=io_url, timeout=30) as io,
        httpx.AsyncClient(base_url=sn_url, timeout=30, auth=(SN_USER, SN_PASSWORD)) as sn,
    ):

        async def pair(n: int) -> tuple[str, str]:
            title = f"Existing outage {n} in eu-west"
            r = await io.post("/_sandbox/incidents", json={"name": title, "summary": f"s {n}"})
            iid: str = r.raise_for_status().json()["incident"]["id"]
            body = (
                {"short_description": f"Ticket {n}", "u_incident_io_id": iid}
                if by is By.CORRELATION
                else {"short_description": f"EXISTING outage {n} in EU-West!"}
            )
            r = await sn.post("/_sandbox/table/incident", json={**body, "user": SN_USER})
            sys_id: str = r.raise_for_status().json()["result"]["sys_id"]
            return iid, sys_id

        started = time.perf_counter()
        pairs = await _each(count, pair)
        print(f"seeded {count} incidents and tickets in {time.perf_counter() - started:.1f}s")
        return set(pairs)


async def run(linker: Linker, by: By, dry_run: bool) -> LinkJob:
    job = LinkJob(integration="prod-snow", by=by, since_s=DAY_S, dry_run=dry_run)
    await linker.store.save(job)
    done = await linker.run(job)
    await linker.store.save(done)
    return done


def report(label: str, job: LinkJob) -> None:
    c = job.counts
    took = job.duration_s or 0.0
    print(
        f"{label}: {job.status.value} in {took:.2f}s; requests per side {job.requests}; "
        f"listed {job.listed}; planned {c.planned}, linked {c.linked}, unchanged "
        f"{c.unchanged}, errors {c.errors}, ambiguous {c.ambiguous}, unmatched {c.unmatched}"
    )


async def bench(args: argparse.Namespace) -> None:
    by = By(args.by)
    workdir = Path(tempfile.mkdtemp(prefix="bench-link-"))
    ports = {n: processes.free_port() for n in ("redis", "incidentio", "servicenow")}
    broker = processes.broker()
    broker.log_path = workdir / "broker.log"
    children = [broker, *sandbox_children(workdir, ports)]
    processes.start_all(children)
    io_url, sn_url = (f"http://127.0.0.1:{ports[n]}" for n in ("incidentio", "servicenow"))
    redis = Redis(port=ports["redis"])
    settings = ReconcilerSettings.model_validate(
        # The embedded broker takes no idempotent producer (the devstack sets the same).
        {"KAFKA_BOOTSTRAP": f"127.0.0.1:{broker.port}", "KAFKA_IDEMPOTENCE": False}
    )
    publisher = Publisher(settings, redis)
    sides = Sides(FileSource(""), config(io_url, sn_url))
    try:
        made = await seed(io_url, sn_url, args.pairs, by)
        await publisher.start()
        linker = Linker(sides, LinkJobStore(redis), publisher, redis, "bench")
        dry = await run(linker, by, dry_run=True)
        report("dry run (plan)", dry)
        linked = await run(linker, by, dry_run=False)
        report("link", linked)
        rerun = await run(linker, by, dry_run=False)
        report("rerun", rerun)
        took = linked.duration_s or 0.0
        print(f"\n{args.pairs} pairs linked by {by.value} in {took:.2f}s "
              f"({args.pairs / (took or 1):.0f} pairs/s), target < {TARGET_S:.0f}s: "
              f"{'met' if took < TARGET_S else 'MISSED'}")  # fmt: skip
        planned = {(p.incident, p.record) for p in dry.pairs}
        if planned != made or linked.counts.linked != len(made) or rerun.counts.linked:
            raise SystemExit("the plan is not the pairs made, or a run linked the wrong pairs")
    finally:
        await publisher.stop()
        await sides.aclose()
        await redis.aclose()
        processes.stop_all(children)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--by", choices=[By.CORRELATION.value, By.TITLE.value],
                        default=By.CORRELATION.value)  # fmt: skip
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()
