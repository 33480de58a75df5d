"""The key layout and the Redis URL (`syncstate.keys`, `syncstate.client`), without a server."""

from __future__ import annotations

import pytest
from limits.aio.storage import RedisClusterStorage, RedisStorage

from incident_sync.syncstate import keys
from incident_sync.syncstate.client import (
    ClusterUrl,
    is_cluster,
    parse_cluster_url,
    rate_limit_storage,
)


def test_a_tenants_keys_carry_the_tenant_as_their_hash_tag() -> None:
    assert keys.links("default", "INC1") == "is:{default}:links:INC1"
    assert keys.state("acme", "prod-snow", "sys1") == "is:{acme}:state:prod-snow:sys1"
    assert keys.token_by_hash("ab") == "is:ctl:tokenhash:ab"  # cluster-wide: no tag


@pytest.mark.parametrize("tenant", ["", "a{b", "a}b"])
def test_a_tenant_that_would_move_the_hash_tag_is_refused(tenant: str) -> None:
    with pytest.raises(ValueError, match="not a tenant id"):
        keys.links(tenant, "INC1")


def test_a_cluster_url_names_its_seed_nodes_credentials_and_tls() -> None:
    assert is_cluster("redis+cluster://h:1") and is_cluster("REDISS+CLUSTER://h:1")
    assert not is_cluster("redis://h:6379/0")
    assert parse_cluster_url("rediss+cluster://u:p%40ss@a:7000,b:7001,[::1]:7002/0") == (
        ClusterUrl(
            nodes=(("a", 7000), ("b", 7001), ("::1", 7002)),
            tls=True,
            username="u",
            password="p@ss",
        )
    )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("redis+cluster://a:7000/3", "database 0 only"),
        ("redis+cluster://a", "host:port"),
        ("redis+cluster://a:7000,:7001", "host:port"),
        ("redis://a:7000", "not a redis\\+cluster"),
    ],
)
def test_a_bad_cluster_url_is_refused_without_quoting_it(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as refused:
        parse_cluster_url(url.replace("a:", "user:sekrit@a:", 1))
    assert "sekrit" not in str(refused.value)


def test_the_rate_limiter_uses_limits_cluster_storage_on_a_cluster() -> None:
    single = rate_limit_storage("redis://127.0.0.1:1/0")
    cluster = rate_limit_storage("redis+cluster://127.0.0.1:1,127.0.0.1:2")
    assert type(single) is RedisStorage and isinstance(cluster, RedisClusterStorage)
    assert single.bridge.key_prefix == cluster.bridge.key_prefix == keys.RATE_LIMITS


def test_the_breaker_reports_are_a_tenants_and_the_consumer_lag_the_deployments() -> None:
    assert keys.breakers("acme", "prod-snow") == "is:{acme}:breakers:prod-snow"
    assert keys.CONSUMER_LAG == "is:ctl:consumerlag"  # cluster-wide: no tag, one command
