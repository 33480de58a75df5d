"""Reconcile 10,000 links against the sandboxes: time and requests per side.

    python -m bench.reconcile [--links 10000] [--drift 100] [--baseline 1000]

Starts a redis-server and the incident.io and ServiceNow sandboxes as child processes (no
webhooks), creates `--links` incidents on each side with the correlation set, writes the
links and the known state into Redis as the pipeline leaves them, edits `--drift` tickets
behind the service's back, then runs the reconciler's engine (a dry run: every link read on
both sides and compared) in this process. It prints the run's duration, the requests each
side received, and the discrepancies found (which must be exactly the drifted tickets).

For scale, the same comparison of the first `--baseline` links is timed twice in this
process: with the connectors' batched reads, and reading one record per request (the
connectors' default `fetch_many`), as a ratio. The run fails only if the drift found is not
the drift made; the 60 s target is reported, not enforced.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import httpx
from redis.asyncio import Redis

from incident_sync.connectors.base import Connector
from incident_sync.controlstore.source import FileSource
from incident_sync.devstack import processes
from incident_sync.reconciler.engine import Engine
from incident_sync.reconciler.publisher import Publisher
from incident_sync.reconciler.settings import ReconcilerSettings
from incident_sync.reconciler.sides import Sides
from incident_sync.syncmodel.config import SyncConfig
from incident_sync.syncstate import keys
from incident_sync.syncstate.links import LinkView
from incident_sync.syncstate.reconcile import ReconcileRun, RunMode

SN_USER, SN_PASSWORD = "incident-sync", "bench-password"
API_KEY = secrets.token_urlsafe(16)
CONCURRENCY = 32
TARGET_S = 60.0
T = TypeVar("T")


async def _each(count: int, work: Callable[[int], Awaitable[T]]) -> list[T]:
    """`work(n)` for n in range(count), CONCURRENCY at a time, in order."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(n: int) -> T:
        async with gate:
            return await work(n)

    return list(await asyncio.gather(*(one(n) for n in range(count))))


async def seed(io_url: str, sn_url: str, redis: Redis, links: int, drift: int) -> set[str]:
    """Incidents, tickets, links and known state; returns the drifted sys_ids."""
    async with (
        httpx.AsyncClient(base_url=io_url, timeout=30) as io,
        httpx.AsyncClient(base_url=sn_url, timeout=30, auth=(SN_USER, SN_PASSWORD)) as sn,
    ):

        def values(n: int) -> dict[str, str]:
            return {"title": f"Bench incident {n}", "description": f"summary {n}"}

        async def pair(n: int) -> tuple[str, str]:
            title, summary = values(n).values()
            r = await io.post("/_sandbox/incidents", json={"name": title, "summary": summary})
            iid = r.raise_for_status().json()["incident"]["id"]
            body = {"short_description": title, "description": summary, "u_incident_io_id": iid}
            r = await sn.post("/_sandbox/table/incident", json={**body, "user": SN_USER})
            return iid, r.raise_for_status().json()["result"]["sys_id"]

        started = time.perf_counter()
        pairs = await _each(links, pair)
        print(f"seeded {links} incidents and tickets in {time.perf_counter() - started:.1f}s")
        async with redis.pipeline(transaction=False) as pipe:
            for n, (iid, sys_id) in enumerate(pairs):
                # The known state as the pipeline leaves it after a sync (outbound/state.py).
                known = values(n)
                pipe.hset(keys.links("default", iid), "prod-snow", sys_id)
                pipe.set(keys.link("default", "prod-snow", sys_id), iid)
                pipe.hset(keys.state("default", "prod-snow", sys_id), mapping=known)  # type: ignore[arg-type]
                pipe.hset(keys.state("default", "incidentio", iid), mapping=known)  # type: ignore[arg-type]
            await pipe.execute()
        drifted = [sys_id for _, sys_id in pairs[:drift]]

        async def edit(n: int) -> None:
            path = f"/_sandbox/table/incident/{drifted[n]}"
            (await sn.patch(path, json={"short_description": f"edited {n}"})).raise_for_status()

        await _each(drift, edit)
        return set(drifted)


def config(io_url: str, sn_url: str) -> SyncConfig:
    platform = {"id": "incidentio", "type": "incidentio", "base_url": io_url, "api_key": API_KEY}
    snow = {
        "id": "prod-snow",
        "type": "servicenow",
        "base_url": sn_url,
        "username": SN_USER,
        "password": SN_PASSWORD,
        "ownership": {},
    }
    return SyncConfig.model_validate({"platform": platform, "integrations": [snow]})


async def compare_first(engine: Engine, view: LinkView, count: int, batched: bool) -> float:
    """Time reading and comparing the first `count` links (batched, or one per request)."""
    links = await view.links("default", "prod-snow")
    ids = sorted(links)[:count]
    pids = [links[i] for i in ids]
    tool = engine.sides.connector("prod-snow")
    platform = engine.sides.connector("incidentio")
    started = time.perf_counter()
    if batched:
        await tool.fetch_many(ids, comments=False)
        await platform.fetch_many(pids, comments=False)
    else:
        await Connector.fetch_many(tool, ids)
        await Connector.fetch_many(platform, pids)
    return time.perf_counter() - started


def sandbox_children(workdir: Path, ports: dict[str, int]) -> list[processes.Child]:
    """A redis-server and the incident.io and ServiceNow sandboxes on `ports` (by name), their
    logs in `workdir`; not started yet."""
    children = [
        processes.redis(ports["redis"], str(workdir)),
        processes.python_module(
            "sandbox-incidentio", "incident_sync.sandbox.incidentio", "--host", "127.0.0.1",
            "--port", str(ports["incidentio"]), f"--api-key={API_KEY}", port=ports["incidentio"],
        ),
        processes.python_module(
            "sandbox-servicenow", "incident_sync.sandbox.servicenow", "--host", "127.0.0.1",
            "--port", str(ports["servicenow"]), "--user", f"{SN_USER}:{SN_PASSWORD}",
            port=ports["servicenow"],
        ),
    ]  # fmt: skip
    for child in children:
        child.log_path = workdir / f"{child.name}.log"
    return children


async def bench(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-reconcile-"))
    ports = {n: processes.free_port() for n in ("redis", "incidentio", "servicenow")}
    children = sandbox_children(workdir, ports)
    for child in children:
        child.start()
    io_url, sn_url = (f"http://127.0.0.1:{ports[n]}" for n in ("incidentio", "servicenow"))
    redis = Redis(port=ports["redis"])
    try:
        drifted = await seed(io_url, sn_url, redis, args.links, args.drift)
        cfg = config(io_url, sn_url)
        sides = Sides(FileSource(""), cfg)
        engine = Engine(sides, LinkView(redis), Publisher(ReconcilerSettings()), "bench")
        run = await engine.run(ReconcileRun(integration="prod-snow", mode=RunMode.DRY_RUN))
        found = {d.external_id for d in run.discrepancies}
        print(f"\nreconcile (dry run) of {run.links} links: {run.duration_s:.2f}s "
              f"({run.links / (run.duration_s or 1):.0f} links/s), target < {TARGET_S:.0f}s: "
              f"{'met' if (run.duration_s or 0) < TARGET_S else 'MISSED'}")  # fmt: skip
        print(f"requests per side: {run.requests}")
        print(f"discrepancies: {run.discrepancies_found} (drift made: {len(drifted)})")
        if run.status.value != "succeeded" or found != drifted:
            raise SystemExit(f"the run did not find exactly the drift made: {run.error}")
        count = min(args.baseline, args.links)
        batched = await compare_first(engine, LinkView(redis), count, batched=True)
        single = await compare_first(engine, LinkView(redis), count, batched=False)
        print(f"\nreading {count} links on both sides: batched {batched:.2f}s, one record per "
              f"request {single:.2f}s; ratio {batched / single:.3f}")  # fmt: skip
        await sides.aclose()
    finally:
        await redis.aclose()
        for child in reversed(children):
            child.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=10_000)
    parser.add_argument("--drift", type=int, default=100)
    parser.add_argument("--baseline", type=int, default=1_000)
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()
