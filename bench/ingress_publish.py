"""Ingress throughput: a bare aiohttp handler vs the real `POST /webhook` path.

    python -m bench.ingress_publish [--duration 8] [--connections 64] [--pools 1,2,4]

One run starts a fresh Tansu broker (it keeps every message in memory), then drives, with the
same load generator (wrk if installed, else a small aiohttp client in a child process):
  (a) a bare aiohttp handler answering 202 to a 2 KB JSON POST, and
  (b) `python -m ingress` with a valid Svix signature on a realistic 2 KB incident.io
      `public_incident.incident_updated_v2` body: verify + parse + durable publish (acks=all),
      once per producer-pool size.
Both servers run in their own process with the same event loop (uvloop when installed) and
no access log. It prints req/s and p50/p99 latency for each, and the ratio (b)/(a); it never
fails because of the ratio. The events on `sync.inbound` are counted to check that every 202
was a stored event.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from connectors.incidentio.signature import sign
from devstack import processes

EVENT_TYPE = "public_incident.incident_updated_v2"
VARIANTS = 256  # distinct signed requests the generator cycles through (different incidents)


# -- payloads ---------------------------------------------------------------------------------
def incident_body(n: int, size: int = 2048) -> bytes:
    """A realistic incident.io IncidentV2 update of about `size` bytes."""
    iid = f"01HZX{n:05d}QK8R4T6W2Y9C3M7PBV"[:26]
    user = {
        "id": "01FCNDV6P870EA6S7TK1DSYDG0",
        "name": "Lisa Karlin Curtis",
        "email": "lisa@example.com",
        "role": "responder",
        "slack_user_id": "U02AYNF2XJM",
    }
    incident: dict[str, Any] = {
        "id": iid,
        "reference": f"INC-{1000 + n}",
        "name": f"Checkout latency above SLO in eu-west-1 (#{n})",
        "summary": "",
        "mode": "standard",
        "visibility": "public",
        "permalink": f"https://app.incident.io/example/incidents/{1000 + n}",
        "slack_channel_id": "C02AW36C1M5",
        "slack_channel_name": f"inc-{1000 + n}-checkout-latency",
        "slack_team_id": "T02A1FSLE8J",
        "call_url": "https://zoom.us/j/123",
        "created_at": "2024-05-01T09:12:44.113081Z",
        "updated_at": f"2024-05-01T09:{n % 60:02d}:{(n * 7) % 60:02d}.801578Z",
        "creator": {"user": user},
        "incident_status": {
            "id": "01FCNDV6P870EA6S7TK1DSYD5H",
            "name": "Investigating",
            "description": "We're investigating the problem.",
            "category": "live",
            "rank": 4,
            "created_at": "2021-08-17T13:28:57.801578Z",
            "updated_at": "2021-08-17T13:28:57.801578Z",
        },
        "severity": {
            "id": "01FCNDV6P870EA6S7TK1DSYDG0",
            "name": "Major",
            "description": "Issues causing significant impact.",
            "rank": 2,
            "created_at": "2021-08-17T13:28:57.801578Z",
            "updated_at": "2021-08-17T13:28:57.801578Z",
        },
        "incident_type": {
            "id": "01FH5TZRWMNAFB0DZ23FD1TV96",
            "name": "Production Outage",
            "description": "Something has gone wrong in production.",
            "is_default": False,
            "private_incidents_only": False,
        },
        "incident_role_assignments": [
            {
                "role": {
                    "id": "01FH5TZRWMNAFB0DZ23FD1TV97",
                    "name": "Incident Lead",
                    "role_type": "lead",
                    "shortform": "lead",
                },
                "assignee": user,
            }
        ],
        "custom_field_entries": [
            {
                "custom_field": {
                    "id": "01FCNDV6P870EA6S7TK1DSYDG1",
                    "name": "Affected Teams",
                    "field_type": "multi_select",
                },
                "values": [{"value_option": {"id": "01FCNDV6P870", "value": "Payments"}}],
            }
        ],
        "most_recent_update_message": "Rolled back the 09:05 deploy; error rate recovering.",
        "duration_metrics": [],
        "incident_timestamp_values": [],
        "workload_minutes_total": 42.5,
    }
    envelope = {"event_type": EVENT_TYPE, EVENT_TYPE: incident}
    base = len(orjson.dumps(envelope))
    incident["summary"] = ("Customers see slow checkouts; p99 above 4 s since 09:03. " * 40)[
        : max(0, size - base)
    ]
    return orjson.dumps(envelope)


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes


def signed_requests(key: bytes, count: int) -> list[Request]:
    out = []
    timestamp = str(int(time.time()))
    for n in range(count):
        body = incident_body(n)
        msg_id = f"msg_{uuid.uuid4().hex}"
        out.append(
            Request(
                "/webhook",
                {
                    "Content-Type": "application/json",
                    "webhook-id": msg_id,
                    "webhook-timestamp": timestamp,
                    "webhook-signature": sign(key, msg_id, timestamp, body),
                },
                body,
            )
        )
    return out


# -- the bare server (a child process) ----------------------------------------------------------
def serve_bare(port: int) -> None:
    """Served exactly as `python -m ingress` serves: AppRunner, no access log, uvloop."""
    import signal

    from aiohttp import web

    async def handler(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"status": "accepted", "events": 1}, status=202)

    async def serve() -> None:
        app = web.Application()
        app.router.add_post("/webhook", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await runner.cleanup()

    try:
        import uvloop
    except ImportError:
        asyncio.run(serve())
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as loop_runner:
        loop_runner.run(serve())


# -- load generators ----------------------------------------------------------------------------
@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    bad: int  # non-2xx answers plus socket errors

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _lua_string(data: bytes) -> str:
    text = data.decode()
    assert "]==]" not in text
    return "[==[" + text + "]==]"


def wrk_script(requests: list[Request], path: Path) -> None:
    # Built in init(): wrk sets the Host header only after the script has loaded.
    lines = ["local reqs = {}", "init = function(args)"]
    for r in requests:
        headers = ", ".join(f'["{k}"] = {_lua_string(v.encode())}' for k, v in r.headers.items())
        lines.append(
            f'reqs[#reqs + 1] = wrk.format("POST", "{r.path}", {{{headers}}}, '
            f"{_lua_string(r.body)})"
        )
    lines.append(
        """
end
local i = 0
request = function()
  i = i % #reqs + 1
  return reqs[i]
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"bad":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status + e.connect + e.read + e.write + e.timeout))
end
"""
    )
    path.write_text("\n".join(lines))


def run_wrk(name: str, url: str, script: Path, args: argparse.Namespace) -> Result:
    wrk = shutil.which("wrk")
    assert wrk is not None
    cmd = [
        *_pinned(args, LOAD_CPUS), wrk, f"-t{args.threads}", f"-c{args.connections}",
        f"-d{int(args.duration)}s", "--timeout", "10s", "-s", str(script), url,
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout  # noqa: S603
    line = next(x for x in out.splitlines() if x.startswith("BENCH_JSON "))
    data = orjson.loads(line.removeprefix("BENCH_JSON "))
    return Result(
        name,
        data["requests"],
        data["duration_us"] / 1e6,
        data["p50_us"] / 1000,
        data["p99_us"] / 1000,
        data["bad"],
    )


async def _pyload(url: str, reqs: list[Request], connections: int, duration: float) -> None:
    import aiohttp

    latencies: list[float] = []
    bad = 0
    stop_at = time.perf_counter() + duration

    async def worker(session: aiohttp.ClientSession, offset: int) -> None:
        nonlocal bad
        i = offset
        while (now := time.perf_counter()) < stop_at:
            r = reqs[i % len(reqs)]
            i += 1
            try:
                async with session.post(url + r.path, data=r.body, headers=r.headers) as resp:
                    await resp.read()
                    if resp.status >= 300:
                        bad += 1
            except aiohttp.ClientError:
                bad += 1
            latencies.append(time.perf_counter() - now)

    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session, k * 7) for k in range(connections)))
    seconds = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    result = {
        "requests": len(latencies),
        "duration_us": int(seconds * 1e6),
        "p50_us": int(q[49] * 1e6),
        "p99_us": int(q[98] * 1e6),
        "bad": bad,
    }
    sys.stdout.write("BENCH_JSON " + orjson.dumps(result).decode() + "\n")


def run_pyload(name: str, url: str, requests_file: Path, args: argparse.Namespace) -> Result:
    cmd = [
        *_pinned(args, LOAD_CPUS), sys.executable, "-m", "bench.ingress_publish",
        "--loadgen", url,
        "--requests-file", str(requests_file), "--connections", str(args.connections),
        "--duration", str(args.duration),
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout  # noqa: S603
    line = next(x for x in out.splitlines() if x.startswith("BENCH_JSON "))
    data = orjson.loads(line.removeprefix("BENCH_JSON "))
    return Result(
        name, data["requests"], data["duration_us"] / 1e6, data["p50_us"] / 1000,
        data["p99_us"] / 1000, data["bad"],
    )  # fmt: skip


# -- CPU pinning (--pin) -------------------------------------------------------------------------
SERVER_CPUS = "0"  # the server under test gets a core of its own
LOAD_CPUS = "1-1023"  # the load generator and the broker share the others


def _pinned(args: argparse.Namespace, cpus: str) -> list[str]:
    taskset = shutil.which("taskset")
    return [taskset, "-c", cpus] if args.pin and taskset else []


def pin(args: argparse.Namespace, child: processes.Child, cpus: str) -> None:
    """Pin every thread of a running child (the broker is multi-threaded)."""
    taskset = shutil.which("taskset")
    if args.pin and taskset and child.proc is not None:
        subprocess.run(  # noqa: S603
            [taskset, "-a", "-cp", cpus, str(child.proc.pid)], check=True, capture_output=True
        )


# -- orchestration ------------------------------------------------------------------------------
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
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from syncmodel import topics

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topics.INBOUND) or set()
        if not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topics.INBOUND) or set()
        tps = [TopicPartition(topics.INBOUND, p) for p in parts]
        ends = await consumer.end_offsets(tps)
        starts = await consumer.beginning_offsets(tps)
        return sum(ends[tp] - starts[tp] for tp in tps)
    finally:
        await consumer.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=8, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--pools", default="1,2,4", help="producer pool sizes to measure")
    parser.add_argument("--loadgen-python", action="store_true", help="ignore wrk")
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
        raw = orjson.loads(args.requests_file.read_bytes())
        reqs = [Request(r["path"], r["headers"], r["body"].encode()) for r in raw]
        asyncio.run(_pyload(args.loadgen, reqs, args.connections, args.duration))
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
    requests_file.write_bytes(
        orjson.dumps(
            [{"path": r.path, "headers": r.headers, "body": r.body.decode()} for r in requests]
        )
    )

    def measure(name: str, url: str) -> Result:
        if use_wrk:
            return run_wrk(name, url, script, args)
        return run_pyload(name, url, requests_file, args)

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
        results.append(measure("(a) bare aiohttp 202", url))
    finally:
        bare.stop()

    for pool in pools:
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
        ingress = processes.python_module("ingress", "ingress", port=port, env=env)
        name = f"(b) POST /webhook, pool={pool}"
        try:
            ingress.start(ready_timeout_s=30)
            pin(args, ingress, SERVER_CPUS)
            url = f"http://127.0.0.1:{port}"
            wait_accepting(url, requests[0])
            result = measure(name, url)
            results.append(result)
            ingress.stop(grace_s=15)
            stored[name] = (asyncio.run(count_inbound(bootstrap)), result.requests - result.bad)
        except Exception:
            print(ingress.log_tail(), file=sys.stderr)
            raise
        finally:
            ingress.stop()
            broker.stop()

    base = results[0].rps
    print()
    print(f"{'variant':32} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'bad':>6} {'vs (a)':>7}")
    for r in results:
        ratio = r.rps / base if base else 0.0
        print(f"{r.name:32} {r.rps:9.0f} {r.p50_ms:8.2f} {r.p99_ms:8.2f} {r.bad:6d} {ratio:6.2f}x")
    for name, (on_topic, answered) in stored.items():
        # on_topic also holds the warm-up deliveries
        verdict = "ok" if on_topic >= answered else "MISSING EVENTS"
        print(f"{name}: {answered} accepted, {on_topic} on sync.inbound: {verdict}")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
