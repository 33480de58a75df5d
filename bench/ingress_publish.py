"""Ingress throughput: a bare aiohttp handler vs the real `POST /webhook` path.

    python -m bench.ingress_publish [--duration 8] [--connections 64] [--pools 1,2,4]

One run starts a fresh Tansu broker (it keeps every message in memory), then drives, with the
same load generator (wrk if installed, else a small aiohttp client in a child process):
  (a) a bare aiohttp handler answering 202 to a 2 KB JSON POST, and
  (b) `python -m incident_sync.ingress` with a valid Svix signature on a realistic 2 KB incident.io
      `public_incident.incident_updated_v2` body: verify + parse + durable publish (acks=all),
      once per producer-pool size;
  (c) with `--breakdown`, the same ingress cut short after each stage (bench/ingress_stages.py:
      framing only, + verify, + parse and encode without publishing), to show where the time
      goes.
Both servers run in their own process with the same event loop (uvloop when installed) and
no access log. It prints req/s, p50/p99 latency, the ratio to (a) and the server's CPU time
per request (Linux /proc) for each; it never fails because of the ratio. The events on
`sync.inbound` are counted to check that every 202 was a stored event.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

from bench.bare_server import serve_bare
from bench.cpu import cpu_seconds
from bench.ingress_stages import STAGES
from bench.loadgen import Result, pyload, run_pyload, run_wrk, wrk_script
from bench.payloads import (
    VARIANTS,
    Request,
    read_requests_file,
    signed_requests,
    write_requests_file,
)
from bench.pinning import LOAD_CPUS, SERVER_CPUS, pin
from incident_sync.devstack import processes


def wait_accepting(url: str, request: Request, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            resp = httpx.post(url + request.path, content=request.body, headers=request.headers)
            if resp.status_code == 202:
                return
            last = f"{resp.status_code} {resp.text[:200]}"
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.2)
    raise RuntimeError(f"{url} never answered 202: {last}")


async def count_inbound(bootstrap: str) -> int:
    """The records on sync.inbound, counted by reading them all: the embedded Tansu broker's
    end offsets lag the last acknowledged records by a few per partition (measured: 15 of
    30,000 acked records, every one of them readable), so `end - beginning` undercounts."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from incident_sync.syncmodel import topics

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topics.OBSERVATIONS) or set()
        if not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topics.OBSERVATIONS) or set()
        consumer.assign([TopicPartition(topics.OBSERVATIONS, p) for p in parts])
        count, quiet = 0, 0
        while quiet < 3:  # three empty polls in a row: everything was read
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            read = sum(len(records) for records in batch.values())
            count += read
            quiet = 0 if read else quiet + 1
        return count
    finally:
        await consumer.stop()


def _pid(child: processes.Child) -> int | None:
    return child.proc.pid if child.proc is not None else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=8, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--pools", default="1,2,4", help="producer pool sizes to measure")
    parser.add_argument("--loadgen-python", action="store_true", help="ignore wrk")
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also run the ingress cut short after each stage (framing, verify, parse)",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="pin the server under test to CPU 0, load generator and broker to the others",
    )
    # child-process modes
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--loadgen", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--requests-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve_bare:
        serve_bare(args.serve_bare)
        return 0
    if args.loadgen:
        reqs = read_requests_file(args.requests_file)
        asyncio.run(pyload(args.loadgen, reqs, args.connections, args.duration))
        return 0
    return run(args)


def run(args: argparse.Namespace) -> int:
    use_wrk = shutil.which("wrk") is not None and not args.loadgen_python
    pools = [int(p) for p in args.pools.split(",") if p.strip()]
    workdir = Path(tempfile.mkdtemp(prefix="bench-ingress-"))
    key = secrets.token_bytes(24)
    secret = "whsec_" + base64.b64encode(key).decode()
    config_path = workdir / "sync.json"
    config_path.write_bytes(
        orjson.dumps(
            {
                "platform": {
                    "id": "incidentio",
                    "type": "incidentio",
                    "base_url": "http://127.0.0.1:9",
                    "webhook_secret": "${BENCH_WEBHOOK_SECRET}",
                }
            }
        )
    )
    requests = signed_requests(key, VARIANTS)
    script = workdir / "post.lua"
    wrk_script(requests, script)
    requests_file = workdir / "requests.json"
    write_requests_file(requests, requests_file)

    cpu_us: dict[str, float] = {}  # the server's CPU time per answered request

    def measure(name: str, url: str, server_pid: int | None = None) -> Result:
        before = cpu_seconds(server_pid) if server_pid else None
        if use_wrk:
            result = run_wrk(name, url, script, args)
        else:
            result = run_pyload(name, url, requests_file, args)
        after = cpu_seconds(server_pid) if server_pid else None
        if before is not None and after is not None and result.requests:
            cpu_us[name] = (after - before) / result.requests * 1e6
        return result

    generator = (
        f"wrk -t{args.threads} -c{args.connections}"
        if use_wrk
        else f"python aiohttp client, {args.connections} connections"
    )
    pinning = ", server pinned to CPU 0" if args.pin else ""
    print(
        f"load: {generator}, {args.duration:g}s each, {len(requests[0].body)} B body, "
        f"{os.cpu_count()} CPUs{pinning}",
        flush=True,
    )
    results: list[Result] = []
    stored: dict[str, tuple[int, int]] = {}

    bare_port = processes.free_port()
    bare = processes.python_module(
        "bare", "bench.ingress_publish", "--serve-bare", str(bare_port), port=bare_port
    ).start()
    pin(args, bare, SERVER_CPUS)
    try:
        url = f"http://127.0.0.1:{bare_port}"
        wait_accepting(url, requests[0])
        measure("warmup", url)  # not reported
        results.append(measure("(a) bare aiohttp 202", url, _pid(bare)))
    finally:
        bare.stop()

    variants: list[tuple[str, str, int]] = [(f"(b) POST /webhook, pool={p}", "", p) for p in pools]
    if args.breakdown:
        variants += [(f"(c) cut after {stage}", stage, 1) for stage in STAGES]
    for name, stage, pool in variants:
        broker = processes.broker().start()  # fresh per run: it keeps everything in memory
        pin(args, broker, LOAD_CPUS)
        bootstrap = f"127.0.0.1:{broker.port}"
        port = processes.free_port()
        env = {
            "KAFKA_BOOTSTRAP": bootstrap,
            "KAFKA_IDEMPOTENCE": "false",
            "KAFKA_PRODUCER_POOL": str(pool),
            "INCIDENT_SYNC_CONFIG": str(config_path),
            "BENCH_WEBHOOK_SECRET": secret,
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(port),
            "REDIS_URL": "redis://127.0.0.1:9/0",  # /ready is not exercised here
            "LOG_LEVEL": "WARNING",
        }
        if stage:
            env["BENCH_STAGE"] = stage
        module = "bench.ingress_stages" if stage else "incident_sync.ingress"
        ingress = processes.python_module("ingress", module, port=port, env=env)
        try:
            ingress.start(ready_timeout_s=30)
            pin(args, ingress, SERVER_CPUS)
            url = f"http://127.0.0.1:{port}"
            wait_accepting(url, requests[0])
            result = measure(name, url, _pid(ingress))
            results.append(result)
            ingress.stop(grace_s=15)
            if not stage:  # a cut-short ingress publishes nothing
                stored[name] = (asyncio.run(count_inbound(bootstrap)), result.requests - result.bad)
        except Exception:
            print(ingress.log_tail(), file=sys.stderr)
            raise
        finally:
            ingress.stop()
            broker.stop()

    base = results[0].rps
    print()
    print(
        f"{'variant':32} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'bad':>6} {'vs (a)':>7}"
        f" {'CPU us/req':>10}"
    )
    for r in results:
        ratio = r.rps / base if base else 0.0
        cpu = f"{cpu_us[r.name]:10.0f}" if r.name in cpu_us else f"{'-':>10}"
        print(
            f"{r.name:32} {r.rps:9.0f} {r.p50_ms:8.2f} {r.p99_ms:8.2f} {r.bad:6d} {ratio:6.2f}x"
            f" {cpu}"
        )
    for name, (on_topic, answered) in stored.items():
        # on_topic also holds the warm-up deliveries
        verdict = "ok" if on_topic >= answered else "MISSING EVENTS"
        print(f"{name}: {answered} accepted, {on_topic} on sync.inbound: {verdict}")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
