"""The Redis Cluster fixture is a real cluster: keys spread over its three masters, sharded
pub/sub crosses clients, a killed master's replica takes over with the data, and nothing of it
outlives `stop()`. What the cluster engine's tests stand on, proven with redis-py's own
cluster client (the one the engine uses)."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio.cluster import ClusterNode
from redis.asyncio.cluster import RedisCluster as ClusterClient
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.servers import CLUSTER_BUS_OFFSET, STANDARD_REDIS_PORTS, RedisCluster

pytestmark = pytest.mark.anyio


def seeds(url: str) -> list[ClusterNode]:
    """The fixture's URL read as the engine will read it: host:port seeds after the scheme."""
    scheme, _, rest = url.partition("://")
    assert scheme == "redis-cluster"
    hosts = (seed.rsplit(":", 1) for seed in rest.split(","))
    return [ClusterNode(host, int(port)) for host, port in hosts]


@contextlib.asynccontextmanager
async def cluster_client(cluster: RedisCluster) -> AsyncIterator[ClusterClient]:
    client = ClusterClient(startup_nodes=seeds(cluster.url), decode_responses=True)
    await client.initialize()
    try:
        yield client
    finally:
        await client.aclose()


def owner_of(client: ClusterClient, key: str) -> ClusterNode:
    """The master that serves `key`'s slot, as `client` last learnt it."""
    node = client.get_node_from_key(key)
    assert node is not None
    return node


def port_of(node: ClusterNode) -> int:
    return int(node.port)


def redis_processes_on(ports: list[int]) -> list[str]:
    """The command lines of running redis-servers that listen on one of `ports`
    (redis-server titles itself `redis-server 127.0.0.1:PORT [cluster]`)."""
    found = []
    wanted = {f"127.0.0.1:{port}" for port in ports}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            words = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue  # gone meanwhile, or not ours to read
        line = " ".join(words)
        if "redis-server" in line and any(word in wanted for word in line.split()):
            found.append(line)
    return found


def test_nodes_listen_on_free_ports_never_the_standard_ones(redis_cluster: RedisCluster) -> None:
    masters = redis_cluster.masters()
    assert len(masters) == 3
    assert sorted(redis_cluster.seed_ports) == masters
    for port in masters:
        assert port < 55000
        assert not {port, port + CLUSTER_BUS_OFFSET} & STANDARD_REDIS_PORTS


async def test_keys_with_different_hash_tags_land_on_every_master(
        redis_cluster: RedisCluster) -> None:
    redis_cluster.flush()
    async with cluster_client(redis_cluster) as client:
        for n in range(300):
            await client.set(f"castimer:{{{n}}}:x", n)
        assert await client.get("castimer:{299}:x") == "299"
    held = redis_cluster.keys_per_node()
    assert sorted(held) == redis_cluster.masters()
    assert all(count > 0 for count in held.values()), held
    assert sum(held.values()) == 300
    redis_cluster.flush()
    assert sum(redis_cluster.keys_per_node().values()) == 0


async def test_sharded_pubsub_reaches_a_subscriber_on_every_master(
        redis_cluster: RedisCluster) -> None:
    async with cluster_client(redis_cluster) as subscriber, \
            cluster_client(redis_cluster) as publisher:
        # One channel per master: each served by the master of its tag's slot.
        channel_of: dict[int, str] = {}
        for n in range(100):
            channel = f"castimer:{{{n}}}:wake"
            channel_of.setdefault(port_of(owner_of(subscriber, channel)), channel)
        assert sorted(channel_of) == redis_cluster.masters()
        channels = set(channel_of.values())

        pubsub = subscriber.pubsub()
        try:
            await pubsub.ssubscribe(*channels)
            # SSUBSCRIBE is confirmed on each master's own connection; a publish before the
            # confirmation could reach the master first and find nobody listening.
            confirmed: set[str] = set()
            deadline = time.monotonic() + 10
            while confirmed != channels and time.monotonic() < deadline:
                message = await pubsub.get_sharded_message(timeout=0.2)
                if message is not None:
                    assert message["type"] == "ssubscribe"
                    confirmed.add(message["channel"])
            assert confirmed == channels

            for channel in channels:
                assert await publisher.spublish(channel, f"wake {channel}") == 1
            received: dict[str, str] = {}
            deadline = time.monotonic() + 10
            while len(received) < len(channels) and time.monotonic() < deadline:
                message = await pubsub.get_sharded_message(ignore_subscribe_messages=True,
                                                            timeout=0.2)
                if message is not None:
                    assert message["type"] == "smessage"
                    received[message["channel"]] = message["data"]
            assert received == {channel: f"wake {channel}" for channel in channels}
        finally:
            await pubsub.aclose()


async def test_a_killed_master_is_replaced_by_its_replica_with_the_data(
        private_redis_cluster: RedisCluster) -> None:
    cluster = private_redis_cluster
    assert len(cluster.masters()) == 3
    assert all(len(cluster.replicas_of(port)) == 1 for port in cluster.masters())
    key = "castimer:{failover}:timer"
    async with cluster_client(cluster) as client:
        await client.set(key, "running")
        owner = owner_of(client, key)
        # The write has reached the replica before the crash: nothing acknowledged is lost.
        assert await client.execute_command("WAIT", 1, 1000, target_nodes=owner) == 1
        replica = cluster.replicas_of(port_of(owner))

        cluster.kill_master(port_of(owner))
        promoted = cluster.wait_for_failover(port_of(owner), timeout=15)

        assert [promoted] == replica
        assert port_of(owner) not in cluster.masters()
        assert promoted in cluster.masters()
        # The same client, which last knew the dead master, finds the new one.
        assert await client.get(key) == "running"
        assert port_of(owner_of(client, key)) == promoted
        await client.set(key, "paused")
        assert await client.get(key) == "paused"


def test_stop_leaves_no_redis_server_of_the_cluster_running(tmp_path: Path) -> None:
    cluster = RedisCluster(tmp_path).start()
    ports = cluster.ports
    assert len(redis_processes_on(ports)) == 3
    cluster.stop()
    assert redis_processes_on(ports) == []
    for port in ports:
        with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port)):
            pass
    assert all(process.returncode is not None for process in cluster.processes.values())


async def test_a_sharded_subscription_follows_its_slot_to_the_promoted_replica(
        private_redis_cluster: RedisCluster) -> None:
    """What the engine's subscriber must do after a failover, with redis-py 8.1: the pubsub
    keeps reconnecting to the dead master (ConnectionError) until its client refreshes the slots
    and the subscriptions are moved to the new owner. A message published meanwhile is lost
    (pub/sub is at most once): the engine's pollers cover that gap."""
    cluster = private_redis_cluster
    channel = "castimer:{7}:wake"
    async with cluster_client(cluster) as subscriber, cluster_client(cluster) as publisher:
        owner = port_of(owner_of(subscriber, channel))
        pubsub = subscriber.pubsub()
        try:
            await pubsub.ssubscribe(channel)
            confirmation = await pubsub.get_sharded_message(timeout=5)
            assert confirmation is not None and confirmation["type"] == "ssubscribe"

            cluster.kill_master(owner)
            promoted = cluster.wait_for_failover(owner, timeout=15)

            received = None
            deadline = time.monotonic() + 10
            while received is None and time.monotonic() < deadline:
                await publisher.spublish(channel, "wake")
                try:
                    received = await pubsub.get_sharded_message(ignore_subscribe_messages=True,
                                                                timeout=0.2)
                except RedisConnectionError:
                    # The dead master: new slots, and with them the subscription's new home.
                    # The refresh alone starts moving it in a task of redis-py's own, during
                    # which a read can find the old node's pubsub closed (RuntimeError);
                    # reinitialize_shard_subscriptions returns once it has moved.
                    await subscriber.nodes_manager.initialize()
                    await pubsub.reinitialize_shard_subscriptions()
            assert received is not None
            assert (received["type"], received["data"]) == ("smessage", "wake")
            assert list(pubsub.node_pubsub_mapping) == [f"127.0.0.1:{promoted}"]
        finally:
            await pubsub.aclose()
