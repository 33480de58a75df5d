"""Load generators for the ingress benchmark, both reporting one `BENCH_JSON {...}` line that
becomes a `Result`: wrk with a generated Lua script, or (no wrk, or `--loadgen-python`) a small
aiohttp client run in a child process (`python -m bench.ingress_publish --loadgen URL
--requests-file F`)."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from bench.payloads import Request
from bench.pinning import LOAD_CPUS, pinned


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
        *pinned(args, LOAD_CPUS), wrk, f"-t{args.threads}", f"-c{args.connections}",
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


async def pyload(url: str, reqs: list[Request], connections: int, duration: float) -> None:
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
        *pinned(args, LOAD_CPUS), sys.executable, "-m", "bench.ingress_publish",
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
