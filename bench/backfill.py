"""Backfill `--incidents` existing incidents into ServiceNow under a rate limit: duration,
requests and 429s.

    python -m bench.backfill [--incidents 1000] [--limit 600]

Starts the devstack (broker, redis-server, the incident.io and ServiceNow sandboxes, the
pipeline, the control service and the reconciler as child processes) with a ServiceNow
trigger no incident matches, declares `--incidents` incidents (the pipeline makes no record),
then sets the trigger to match them and `rate_limit_per_minute` to `--limit`, and runs the
real `im integration backfill prod-snow`. It prints the job's counts and duration, the
requests ServiceNow answered (creates, searches, 429s) and the busiest minute of requests.
It fails unless every incident got exactly one record and no request was answered 429.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools

NEVER = {"all": [{"field": "custom.Affected team", "equals": "No such team"}]}
PAYMENTS = {"all": [{"field": "custom.Affected team", "equals": "Payments"}]}


def backfill(stack: Stack) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(  # noqa: S603 - our own CLI
        [str(Path(sys.executable).parent / "im"), "integration", "backfill", "prod-snow",
         "--since", "1d", "--timeout", "3600", "-o", "json"],
        env={**os.environ, "IM_API_URL": stack.url("control"), "IM_TOKEN": stack.admin_token},
        capture_output=True, text=True, timeout=3700, check=False,
    )  # fmt: skip
    job: dict[str, Any] = orjson.loads(done.stdout)
    return done.returncode, job


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--limit", type=int, default=600, help="requests a minute")
    args = parser.parse_args()
    stack = Stack(overrides={"prod-snow": {"trigger": NEVER}})
    stack.start()
    tools = Tools(stack)
    try:
        ids = [
            tools.declare(f"Existing outage {n}", "before installation", team="Payments")["id"]
            for n in range(args.incidents)
        ]
        tools.quiesce(timeout_s=300)
        api = httpx.Client(
            base_url=stack.url("control"),
            headers={"Authorization": f"Bearer {stack.admin_token}"},
            timeout=30,
        )
        api.patch(
            "/api/v1/tenants/default/integrations/prod-snow",
            json={"trigger": PAYMENTS, "rate_limit_per_minute": args.limit},
        ).raise_for_status()
        time.sleep(2.0)  # the worker and the reconciler follow the change
        wall, started = time.time(), time.monotonic()
        code, job = backfill(stack)
        took = time.monotonic() - started
        seen = [r for r in tools.api_requests("servicenow") if r["t"] >= wall]
        creates = [r for r in seen if r["method"] == "POST" and r["path"].endswith("/incident")]
        throttled = [r for r in seen if r["status"] == 429]
        times = sorted(r["t"] for r in seen)
        busiest = max((sum(1 for t in times if at <= t < at + 60) for at in times), default=0)
        made = sum(len(tools.snow_records_for(i)) == 1 for i in ids)
        print(f"backfill of {args.incidents} incidents, limit {args.limit}/min: exit {code}")
        print(f"  job: {job['status']} in {job['duration_s']} s (im: {took:.1f} s), "
              f"waited {job['waited_s']} s; counts {job['counts']}")  # fmt: skip
        print(
            f"  ServiceNow: {len(seen)} requests, {len(creates)} creates, "
            f"{len(throttled)} x 429, busiest minute {busiest}"
        )
        print(f"  incidents with exactly one record: {made}/{args.incidents}")
        if made != args.incidents or throttled:
            raise SystemExit(1)
    finally:
        tools.close()
        stack.stop()


if __name__ == "__main__":
    main()
