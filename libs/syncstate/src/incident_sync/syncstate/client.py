"""Redis clients for every service, from one setting (`REDIS_URL`): one server or a cluster.

- `redis://[user:password@]host:port/db` (`rediss://` with TLS): one Redis server (or a
  primary behind a single endpoint).
- `redis+cluster://[user:password@]host:port[,host:port...]` (`rediss+cluster://` with TLS):
  Redis Cluster, such as ElastiCache or Memorystore in cluster mode. The nodes named are seeds:
  the client reads the slot map from them and follows the cluster's redirections. A cluster has
  database 0 only, so a path other than `/` or `/0` is refused.

On a cluster the services rely on the key layout of `syncstate.keys`: a tenant's keys share
one hash slot, so every transaction, multi-key command and script the project sends stays on
one node. The clients are typed as `redis.asyncio.Redis` (or `redis.Redis`): `RedisCluster`
answers the same commands, pipelines and scripts the project uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import unquote

import redis
import redis.asyncio as aioredis
from limits.aio.storage import RedisClusterStorage, RedisStorage

from incident_sync.syncstate import keys

CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


@dataclass(frozen=True)
class ClusterUrl:
    """A `redis+cluster://` URL taken apart."""

    nodes: tuple[tuple[str, int], ...]
    tls: bool
    username: str | None
    password: str | None


def is_cluster(url: str) -> bool:
    return url.partition("://")[0].lower() in CLUSTER_SCHEMES


def parse_cluster_url(url: str) -> ClusterUrl:
    """Raises ValueError naming what is wrong (never quoting a password)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in CLUSTER_SCHEMES:
        raise ValueError("REDIS_URL: not a redis+cluster:// or rediss+cluster:// URL")
    netloc, _, path = rest.partition("/")
    path = path.partition("?")[0]
    if path not in ("", "0"):
        raise ValueError("REDIS_URL: a Redis Cluster has database 0 only")
    userinfo, _, hosts = netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    nodes: list[tuple[str, int]] = []
    for node in hosts.split(","):
        host, _, port = node.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError("REDIS_URL: each cluster node is host:port")
        nodes.append((host.strip("[]"), int(port)))
    return ClusterUrl(
        nodes=tuple(nodes),
        tls=CLUSTER_SCHEMES[scheme.lower()] == "rediss",
        username=unquote(username) or None,
        password=unquote(password) or None,
    )


def _cluster_options(parsed: ClusterUrl) -> dict[str, Any]:
    options: dict[str, Any] = {"ssl": parsed.tls}
    if parsed.username:
        options["username"] = parsed.username
    if parsed.password:
        options["password"] = parsed.password
    return options


def connect(url: str, **options: Any) -> aioredis.Redis:
    """An asyncio client for `url` (`options`: the client's own, e.g. socket timeouts)."""
    if not is_cluster(url):
        return aioredis.Redis.from_url(url, **options)
    parsed = parse_cluster_url(url)
    nodes = [aioredis.cluster.ClusterNode(host, port) for host, port in parsed.nodes]
    client = aioredis.RedisCluster(startup_nodes=nodes, **_cluster_options(parsed), **options)
    return cast(aioredis.Redis, client)


def connect_sync(url: str, **options: Any) -> redis.Redis:
    """A blocking client for `url` (the first load of the config, before the event loop)."""
    if not is_cluster(url):
        return redis.Redis.from_url(url, **options)
    parsed = parse_cluster_url(url)
    nodes = [
        redis.cluster.ClusterNode(host, port)  # type: ignore[no-untyped-call]
        for host, port in parsed.nodes
    ]
    client = redis.RedisCluster(startup_nodes=nodes, **_cluster_options(parsed), **options)
    return cast(redis.Redis, client)


def rate_limit_storage(url: str, **options: Any) -> RedisStorage:
    """The `limits` storage for the rate limiter on the same Redis, its keys under
    `keys.RATE_LIMITS`: limits' own cluster storage on a cluster (each of its windows is
    one key, each command and script touches one)."""
    if not is_cluster(url):
        return RedisStorage(
            "async+" + url, implementation="redispy", key_prefix=keys.RATE_LIMITS, **options
        )
    parsed = parse_cluster_url(url)
    scheme = "async+redis+cluster"
    auth = ""
    if parsed.username or parsed.password:
        # limits reads the credentials from the URL it is given (quoted as they came).
        auth = url.partition("://")[2].rpartition("@")[0] + "@"
    hosts = ",".join(f"{h}:{p}" for h, p in parsed.nodes)
    return RedisClusterStorage(
        f"{scheme}://{auth}{hosts}",
        implementation="redispy",
        key_prefix=keys.RATE_LIMITS,
        **({"ssl": True} if parsed.tls else {}),
        **options,
    )
