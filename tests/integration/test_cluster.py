"""The keyspace on a real Redis Cluster of three masters (`devstack.rediscluster`).

Every key of a tenant carries the tenant as its hash tag (`syncstate.keys`), so whatever the
services send together (MULTI/EXEC, multi-key commands, Lua scripts) stays in one slot, which
a cluster requires; and the whole stack, every service on `redis+cluster://`, syncs both ways
on it. The gate, delivery, throttle, reconciler and control store tests run on the cluster too
(their `redis_url` / `control` fixtures)."""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterator

import pytest
import redis

from incident_sync.devstack.rediscluster import RedisCluster
from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools, wait_for
from incident_sync.syncstate import keys
from incident_sync.syncstate.client import connect_sync
from tests.integration.conftest import im, start_stack

pytestmark = pytest.mark.integration

TENANTS = ("default", "acme", "vault", "t1", "t2", "t3")


def tenant_keys(tenant: str) -> dict[str, str]:
    """Every key `syncstate.keys` builds for one tenant, by builder name."""
    out: dict[str, str] = {}
    for name, builder in inspect.getmembers(keys, inspect.isfunction):
        params = list(inspect.signature(builder).parameters)
        if (
            builder.__module__ == keys.__name__
            and not name.startswith("_")
            and params[:1] == ["tenant"]
        ):
            out[name] = builder(tenant, *(f"x{n}" for n in range(len(params) - 1)))
    return out


@pytest.fixture(scope="module")
def node(redis_cluster: RedisCluster) -> Iterator[redis.Redis]:
    client = redis.Redis(port=redis_cluster.ports[0])
    yield client
    client.close()


def test_every_key_of_a_tenant_hashes_to_one_slot_and_tenants_spread(node: redis.Redis) -> None:
    slots: dict[str, int] = {}
    for tenant in TENANTS:
        built = tenant_keys(tenant)
        assert len(built) > 30  # every builder taking a tenant
        found = {name: node.cluster("KEYSLOT", key) for name, key in built.items()}
        assert len(set(found.values())) == 1, f"{tenant}: keys in several slots: {found}"
        slots[tenant] = next(iter(found.values()))
    assert len(set(slots.values())) > 1  # tenants are spread over the cluster


def test_the_cluster_refuses_a_transaction_across_slots_that_the_tag_keeps_in_one(
    redis_cluster: RedisCluster, node: redis.Redis
) -> None:
    """What the hash tag is for: the link, both ways, in one MULTI (`StateStore.q_link`)."""
    client = connect_sync(redis_cluster.url)
    try:
        untagged = ["is:default:links:INC1", "is:default:link:prod-snow:sys1"]
        assert node.cluster("KEYSLOT", untagged[0]) != node.cluster("KEYSLOT", untagged[1])
        pipe = client.pipeline(transaction=True)
        pipe.hset(untagged[0], "prod-snow", "sys1")
        pipe.set(untagged[1], "INC1")
        with pytest.raises(redis.RedisClusterException):
            pipe.execute()
        pipe = client.pipeline(transaction=True)
        pipe.hset(keys.links("default", "INC1"), "prod-snow", "sys1")
        pipe.set(keys.link("default", "prod-snow", "sys1"), "INC1")
        pipe.execute()
        assert client.get(keys.link("default", "prod-snow", "sys1")) == b"INC1"
    finally:
        client.close()


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Stack, Tools]]:
    yield from start_stack(redis_cluster=True)


def test_the_stack_on_a_cluster_syncs_both_ways_counts_and_reconciles(
    env: tuple[Stack, Tools],
) -> None:
    stack, tools = env
    assert stack.redis_url.startswith("redis+cluster://")
    incident = tools.declare("Cluster outage", "one slot per tenant")
    iid = incident["id"]
    records = wait_for(lambda: tools.snow_records_for(iid), 30, "the ticket")
    sys_id = records[0]["sys_id"]
    tools.quiesce()
    tools.edit_snow(sys_id, short_description="Cluster outage in EU")
    wait_for(lambda: tools.incident(iid)["name"] == "Cluster outage in EU", 30, "the rename")
    tools.quiesce()
    assert len(tools.snow_records_for(iid)) == 1
    assert tools.api_writes("servicenow", sys_id) == 1  # the create; its echo wrote nothing
    assert tools.api_writes("incidentio", iid) == 1  # the rename
    status = im(stack, "integration", "sync-status", "prod-snow")
    assert status["counters"]["outbound_success"] >= 1
    assert status["counters"]["inbound_success"] >= 1
    run = im(stack, "integration", "reconcile", "prod-snow", "--dry-run")
    assert run["status"] == "succeeded" and run["links"] >= 1
    assert run["discrepancies_found"] == 0


def test_a_paused_integration_holds_and_releases_on_a_cluster(env: tuple[Stack, Tools]) -> None:
    """The hold's stream and its release lease, the config reload through the control store."""
    stack, tools = env
    incident = tools.declare("Held on a cluster", "summary")
    iid = incident["id"]
    sys_id = wait_for(lambda: tools.snow_records_for(iid), 30, "the ticket")[0]["sys_id"]
    tools.quiesce()
    held = connect_sync(stack.redis_url)
    try:
        im(stack, "integration", "pause", "prod-snow")
        time.sleep(1.5)  # the worker reloads its config every 0.5 s
        tools.edit_incident(iid, name="Held on a cluster 2")
        wait_for(lambda: held.xlen(keys.held("default", "prod-snow")) >= 1, 30, "the held one")
        assert tools.snow_record(sys_id)["short_description"] == "Held on a cluster"
        im(stack, "integration", "resume", "prod-snow")
        wait_for(
            lambda: tools.snow_record(sys_id)["short_description"] == "Held on a cluster 2",
            30,
            "the release",
        )
        tools.quiesce()
        assert held.xlen(keys.held("default", "prod-snow")) == 0
    finally:
        held.close()
