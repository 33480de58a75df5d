"""End-to-end propagation: a signed incident.io webhook accepted by the ingress (its 202) until
the ServiceNow sandbox receives the write carrying that change (or a later one: a burst is
coalesced into the latest values). p50 / p99 at fixed offered rates, open loop, and writes per
effective change in a burst run.

    python -m bench.propagation [--rates 100,300,500,1000] [--seconds 8] [--incidents 200]
                                [--workers 1]

Each run starts its own stack (a fresh broker: the test broker keeps everything in memory),
links the incidents first, then offers each rate in turn. Everything runs on this machine:
the load generator, the ingress, the worker, both sandboxes, broker and redis share the cores.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
import httpx
import orjson

from bench import cpu
from bench.payloads import EVENT_TYPE, incident_body
from incident_sync.connectors.incidentio.signature import sign
from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import wait_for
from incident_sync.syncstate import keys
from incident_sync.syncstate.client import connect_sync

BASE = datetime(2030, 1, 1, tzinfo=UTC)


@dataclass
class Sent:
    incident: str
    value: str
    seq: int  # the change's place in its incident's history (updated_at order)
    accepted: float  # the ingress's 202 arrived (unix time)


class Driver:
    def __init__(self, stack: Stack, incidents: int) -> None:
        self.stack = stack
        self.key = base64.b64decode(stack.incidentio_secret.removeprefix("whsec_"))
        self.ids = [f"01BENCH{n:06d}{uuid.uuid4().hex[:13].upper()}"[:26] for n in range(incidents)]
        self.tick = 0  # updated_at must grow per incident: one clock for all
        self.sent: list[Sent] = []
        self.failed = 0

    def body(self, n: int, name: str) -> bytes:
        self.tick += 1
        envelope = orjson.loads(incident_body(n, size=1200))
        incident = envelope[EVENT_TYPE]
        incident["id"] = self.ids[n]
        incident["name"] = name
        stamp = BASE + timedelta(milliseconds=self.tick)
        incident["updated_at"] = stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # as incident.io does
        return orjson.dumps(envelope)

    async def post(self, session: aiohttp.ClientSession, n: int, name: str) -> None:
        body = self.body(n, name)
        seq = self.tick
        msg_id = f"msg_{uuid.uuid4().hex}"
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": stamp,
            "webhook-signature": sign(self.key, msg_id, stamp, body),
        }
        async with session.post(
            f"{self.stack.url('ingress')}/webhook", data=body, headers=headers
        ) as r:
            await r.read()
            if r.status != 202:
                self.failed += 1
                return
        self.sent.append(Sent(self.ids[n], name, seq, time.time()))

    async def offer(self, rate: float, seconds: float, label: str) -> list[Sent]:
        """Open loop: change k leaves at start + k/rate whatever the answers do."""
        start_index = len(self.sent)
        total = int(rate * seconds)
        connector = aiohttp.TCPConnector(limit=256)
        async with aiohttp.ClientSession(connector=connector) as session:
            tasks = []
            start = time.perf_counter()
            for k in range(total):
                delay = start + k / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                n = k % len(self.ids)
                tasks.append(asyncio.create_task(self.post(session, n, f"{label}-{k}")))
            await asyncio.gather(*tasks)
        return self.sent[start_index:]


def sandbox_writes(stack: Stack) -> dict[str, list[tuple[float, str]]]:
    """sys_id -> [(time, short_description written)] in order."""
    log = httpx.get(f"{stack.url('servicenow')}/_sandbox/stats", timeout=60).json()
    out: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for entry in log["api_write_log"]:
        name = entry.get("values", {}).get("short_description")
        if name is not None:
            out[entry["id"]].append((entry["t"], name))
    return out


def links(stack: Stack, incidents: list[str]) -> dict[str, str]:
    r = connect_sync(stack.redis_url)
    try:
        raw = {i: r.hget(keys.links("default", i), "prod-snow") for i in incidents}
        return {i: v.decode() for i, v in raw.items() if isinstance(v, bytes)}
    finally:
        r.close()


def latencies(sent: list[Sent], writes: dict[str, list[tuple[float, str]]], linked: dict[str, str]):
    """Per change: the first write to its record carrying it or a later change of it."""
    order: dict[str, dict[str, int]] = defaultdict(dict)  # incident -> value -> rank
    for s in sent:
        order[s.incident][s.value] = s.seq
    out, lost = [], 0
    for s in sent:
        rank = order[s.incident][s.value]
        hit = next(
            (
                t
                for t, value in writes.get(linked[s.incident], [])
                if order[s.incident].get(value, -1) >= rank
            ),
            None,
        )
        if hit is None:
            lost += 1
            if lost <= 3:
                seen = [v for _, v in writes.get(linked[s.incident], [])][-3:]
                print(f"  not seen written: {s.value} (seq {s.seq}); last writes {seen}")
        else:
            out.append(max(0.0, hit - s.accepted))
    return out, lost


def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def settle(
    stack: Stack, sent: list[Sent], linked: dict[str, str], timeout_s: float = 300.0
) -> None:
    """Until the newest change of every incident offered has been written."""
    newest: dict[str, Sent] = {}
    for s in sent:
        if s.incident not in newest or s.seq > newest[s.incident].seq:
            newest[s.incident] = s
    deadline = time.monotonic() + timeout_s
    while True:
        writes = sandbox_writes(stack)
        missing = [
            s
            for s in newest.values()
            if not any(v == s.value for _, v in writes.get(linked[s.incident], []))
        ]
        if not missing:
            return
        if time.monotonic() > deadline:
            example = missing[0]
            last = [v for _, v in writes.get(linked[example.incident], [])][-3:]
            raise TimeoutError(
                f"{len(missing)} incidents lack their newest change, e.g. {example.value} "
                f"(seq {example.seq}); its record's last writes: {last}"
            )
        time.sleep(0.5)


async def burst(stack: Stack, driver: Driver, linked: dict[str, str], latency: float) -> None:
    sandbox = f"{stack.url('servicenow')}/_sandbox/api-faults"
    async with httpx.AsyncClient() as client:
        (await client.post(sandbox, json={"latency_s": latency})).raise_for_status()
    burst_ids = driver.ids[:50]
    earlier = sandbox_writes(stack)
    already = {linked[i]: len(earlier.get(linked[i], [])) for i in burst_ids}
    first = len(driver.sent)
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(
            *(
                driver.post(session, n, f"burst{latency}-{n}-{e}")
                for e in range(20)
                for n in range(50)
            )
        )
    settle(stack, driver.sent[first:], linked)
    async with httpx.AsyncClient() as client:
        (await client.post(sandbox, json={})).raise_for_status()
    writes = sandbox_writes(stack)
    made = sum(len(writes.get(linked[i], [])) - already[linked[i]] for i in burst_ids)
    print(
        f"burst, tool answering in +{latency * 1000:.0f} ms: 1000 changes to 50 records -> "
        f"{made} writes: {made / 50:.2f} writes per effective change (the last value of each "
        f"record), {made / 1000:.3f} per change; ingress refused {driver.failed}"
    )


async def run(args: argparse.Namespace) -> None:
    env = {"LOG_LEVEL": "WARN", "OUTBOUND_LOOP": args.loop}
    env.update(dict(item.split("=", 1) for item in args.env))
    stack = Stack(extra_env=env, workers=args.workers)
    stack.start()
    try:
        driver = Driver(stack, args.incidents)
        # Link every incident first (one create each), so the rates measure updates.
        await driver.offer(
            min(200.0, args.incidents), args.incidents / min(200.0, args.incidents), "init"
        )
        wait_for(lambda: len(links(stack, driver.ids)) == len(driver.ids), 120, "the tickets")
        linked = links(stack, driver.ids)
        settle(stack, driver.sent, linked)
        header = ("rate/s", "changes", "p50 ms", "p99 ms", "max ms", "lost", "writes")
        print(" ".join(f"{h:>8}" for h in header))
        for rate in args.rates:
            before = sum(len(v) for v in sandbox_writes(stack).values())
            cpu_before, start = cpu.snapshot(stack), time.monotonic()
            stages_before = cpu.stages(stack)
            sent = await driver.offer(rate, args.seconds, f"r{rate}")
            settle(stack, sent, linked)
            cpu_used = cpu.report(
                cpu_before, cpu.snapshot(stack), len(sent), time.monotonic() - start
            )
            writes = sandbox_writes(stack)
            got, lost = latencies(sent, writes, linked)
            total = sum(len(v) for v in writes.values()) - before
            print(
                f"{rate:>8.0f} {len(sent):>8} {quantile(got, 0.5) * 1000:>8.1f} "
                f"{quantile(got, 0.99) * 1000:>8.1f} {max(got, default=0) * 1000:>8.1f} "
                f"{lost:>8} {total:>8}"
            )
            if args.cpu:
                print(cpu.stage_report(stages_before, cpu.stages(stack)))
                if cpu_used:
                    print(cpu_used)
        # Bursts: 20 edits to each of 50 records as fast as they go, with the tool answering
        # at once and then slowly (writes pending longer: more of a burst is coalesced).
        for latency in (0.0, args.burst_latency) if args.bursts else ():
            await burst(stack, driver, linked, latency)
    finally:
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.propagation", description=__doc__)
    parser.add_argument("--rates", default="100,300,500,1000")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--incidents", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1, help="outbound worker processes")
    parser.add_argument(
        "--no-bursts", dest="bursts", action="store_false", help="skip the burst runs"
    )
    parser.add_argument(
        "--cpu", action="store_true", help="CPU ms per change of each process, per rate"
    )
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="a setting of the stack"
    )
    parser.add_argument("--loop", default="uvloop", choices=("uvloop", "aio"))
    parser.add_argument(
        "--burst-latency", type=float, default=0.2, help="the slow tool's added latency (s)"
    )
    args = parser.parse_args()
    args.rates = [float(r) for r in args.rates.split(",")]
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
