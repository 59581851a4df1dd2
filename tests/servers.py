"""Real servers for tests: `castimer serve` in a subprocess on 127.0.0.1 and a free port."""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from server import accounts
from server.clock import now_ms
from server.engines import create_engine


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """One `castimer serve` process. Its output goes to a file in `workdir`."""

    def __init__(self, engine_url: str, workdir: Path, env: dict[str, str] | None = None,
                 port: int | None = None, args: tuple[str, ...] = (),
                 command: list[str] | None = None) -> None:
        #: How to run `castimer`: this checkout's by default, or an installed one.
        self.command = command or [sys.executable, "-m", "server.cli"]
        self.engine_url = engine_url
        self.workdir = workdir
        self.env = {**os.environ, "CASTIMER_SCHEDULER_POLL": "0.2", **(env or {})}
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.args = args  # more of `castimer serve`'s options (--workers 2)
        self.process: subprocess.Popen[bytes] | None = None
        self.log = workdir / f"server-{self.port}.log"

    def start(self, timeout: float = 20) -> Server:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [*self.command, "serve", "--port", str(self.port),
                 "--engine", self.engine_url, "--log-level", "warning", *self.args],
                stdout=out, stderr=subprocess.STDOUT, env=self.env, cwd=self.workdir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not become ready: {self.log.read_text()}")

    def output(self) -> str:
        return self.log.read_text()

    def printed_key(self) -> str:
        found = re.findall(r"ck_live_\w+", self.output())
        assert found, self.output()
        return found[-1]

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self, patience: float = 10) -> None:
        """SIGTERM, and SIGKILL if it has not stopped within `patience` seconds."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(patience)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def make_key(engine_url: str, plan: str = "enterprise", account: str | None = None) -> str:
    """A key for a new account (or `account`) made straight in the store, as the CLI does."""

    async def make() -> str:
        engine = create_engine(engine_url)
        await engine.open()
        try:
            name = account or f"test-{time.time_ns()}"
            return (await accounts.key_for(engine, name, plan, now_ms()))[1]
        finally:
            await engine.close()

    return asyncio.run(make())


def client(server: Server, key: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=f"{server.base}/api/v1", headers=headers, timeout=10)


class RedisServer:
    """A private redis-server on a free loopback port (never the machine's 6379), with an
    append-only file fsynced on every write, so a restart loses nothing (`durable=False`: no
    file, for tests that never restart it and must not wait on a busy disk)."""

    def __init__(self, workdir: Path, durable: bool = True) -> None:
        self.workdir = workdir
        self.durable = durable
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10) -> RedisServer:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             *(("--appendonly", "yes", "--appendfsync", "always") if self.durable else
               ("--appendonly", "no")), "--dir", str(self.workdir),
             "--logfile", str(self.workdir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def command(self, *words: str) -> bytes:
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as conn:
            conn.sendall(" ".join(words).encode() + b"\r\n")
            return conn.recv(65536)

    def flush(self) -> None:
        assert self.command("FLUSHALL").startswith(b"+OK")

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


#: Ports a cluster node never takes, nor its bus port (port + 10000): the machine's own Redis
#: and Sentinel, and the ports the Redis docs' cluster tutorial uses (7000-7005).
STANDARD_REDIS_PORTS = frozenset({6379, 6380, 16379, 16380, 26379, *range(7000, 7010),
                                  *range(17000, 17010)})
#: A cluster node's bus listens on its port + 10000. Both stay below the kernel's ephemeral range
#: (32768 and up on Linux), so an outgoing connection cannot take one between the check and the
#: bind; and a node that loses that race anyway is started again on other ports.
CLUSTER_PORTS = range(20000, 22768)
CLUSTER_BUS_OFFSET = 10000
ALL_SLOTS = 16384


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_cluster_port(taken: set[int]) -> int:
    """A free loopback port whose bus port (+10000) is free too; none of `taken`."""
    for _ in range(200):
        port = random.choice(CLUSTER_PORTS)
        bus = port + CLUSTER_BUS_OFFSET
        if ({port, bus} & (STANDARD_REDIS_PORTS | taken) or not _port_is_free(port)
                or not _port_is_free(bus)):
            continue
        return port
    raise RuntimeError(f"no free port pair (port, port + {CLUSTER_BUS_OFFSET}) in {CLUSTER_PORTS}")


class RedisError(Exception):
    """An error reply (`-ERR ...`) from a node."""


def _read_reply(stream: BinaryIO) -> Any:
    """One RESP2 reply: what a node says to `CLUSTER INFO`, `DBSIZE`, `INFO`..."""
    line = stream.readline()
    if not line.endswith(b"\r\n"):
        raise ConnectionError("connection closed in the middle of a reply")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RedisError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        size = int(rest)
        return None if size < 0 else stream.read(size + 2)[:-2].decode()
    if kind == b"*":
        size = int(rest)
        return None if size < 0 else [_read_reply(stream) for _ in range(size)]
    raise ConnectionError(f"not a RESP reply: {line!r}")


def node_command(port: int, *words: str | int, timeout: float = 5) -> Any:
    """One command to the node on 127.0.0.1:`port`, on a connection of its own."""
    args = [str(word).encode() for word in words]
    request = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(request)
        with conn.makefile("rb") as stream:
            return _read_reply(stream)


def _fields(text: str) -> dict[str, str]:
    """`CLUSTER INFO` and `INFO` replies: `name:value` lines."""
    pairs = (line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {name: value.strip() for name, value in pairs}


@dataclass(frozen=True)
class ClusterNodeView:
    """One line of `CLUSTER NODES`, as one node sees another."""

    id: str
    port: int
    flags: frozenset[str]
    master_id: str | None
    slots: int  # how many slots it serves

    @property
    def is_master(self) -> bool:
        return "master" in self.flags

    @property
    def failed(self) -> bool:
        return bool({"fail", "fail?", "noaddr"} & self.flags)


def _parse_nodes(text: str) -> list[ClusterNodeView]:
    nodes = []
    for line in text.splitlines():
        words = line.split()
        if len(words) < 8:
            continue
        slots = 0
        for word in words[8:]:
            if word.startswith("["):  # a slot being migrated or imported
                continue
            low, _, high = word.partition("-")
            slots += int(high or low) - int(low) + 1
        nodes.append(ClusterNodeView(
            id=words[0], port=int(words[1].split("@")[0].rsplit(":", 1)[1]),
            flags=frozenset(words[2].split(",")),
            master_id=None if words[3] == "-" else words[3], slots=slots))
    return nodes


class RedisCluster:
    """A private Redis Cluster on loopback: `masters` redis-server processes, and `replicas`
    (0 or 1) more per master, on free ports that are never the machine's standard ones, made
    one cluster by `redis-cli --cluster create`. Every node fsyncs its append-only file on each
    write, and gives up on a silent peer after `node_timeout_ms`: a failover takes seconds, not
    the default 15 s."""

    def __init__(self, workdir: Path, masters: int = 3, replicas: int = 0,
                 node_timeout_ms: int = 1000, durable: bool = True) -> None:
        assert masters >= 3, "redis-cli --cluster create wants at least three masters"
        assert replicas in (0, 1)
        self.workdir = workdir
        #: Each write fsynced to the node's append-only file (the tests'); False: no file, as
        #: the benchmarks run their single Redis, so that both measure the same work.
        self.durable = durable
        self.master_count = masters
        self.replicas = replicas
        self.node_timeout_ms = node_timeout_ms
        #: Every node started, by port, including any killed since.
        self.processes: dict[int, subprocess.Popen[bytes]] = {}
        #: The masters `redis-cli --cluster create` was given: the seeds of `url`.
        self.seed_ports: list[int] = []
        #: What `kill_master` learnt before the kill: the killed node's replicas.
        self._replicas_of_killed: dict[int, list[int]] = {}

    @property
    def url(self) -> str:
        """`redis-cluster://` and the seeds, comma-separated: the Redis engine's cluster URL."""
        return "redis-cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.seed_ports)

    @property
    def ports(self) -> list[int]:
        return list(self.processes)

    def log(self, port: int) -> Path:
        return self.workdir / f"node-{port}" / "redis.log"

    def logs(self, lines: int = 15) -> str:
        """The tail of every node's log, for an error message."""
        parts = []
        for port in self.processes:
            try:
                tail = self.log(port).read_text(errors="replace").splitlines()[-lines:]
            except FileNotFoundError:
                tail = ["(no log)"]
            parts.append(f"--- redis-server :{port} ---\n" + "\n".join(tail))
        return "\n".join(parts)

    def running(self, port: int) -> bool:
        return self.processes[port].poll() is None

    # Starting

    def start(self, timeout: float = 30) -> RedisCluster:
        deadline = time.monotonic() + timeout
        try:
            count = self.master_count * (1 + self.replicas)
            for _ in range(count):
                self._start_node(deadline)
            ports = self.ports
            self.seed_ports = ports[:self.master_count]
            self._create(ports, deadline)
            self._wait_until("the cluster is ok on every node, replicas in sync", self._healthy,
                             deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_node(self, deadline: float) -> int:
        """One empty cluster node; if another process takes its port first, again elsewhere."""
        for _ in range(5):
            port = free_cluster_port(set(self.processes))
            home = self.workdir / f"node-{port}"
            home.mkdir(parents=True)
            process = subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 *(["--appendonly", "yes", "--appendfsync", "always"] if self.durable else
                   ["--appendonly", "no"]), "--dir", str(home),
                 "--logfile", str(home / "redis.log"),
                 "--cluster-enabled", "yes", "--cluster-config-file", str(home / "nodes.conf"),
                 "--cluster-node-timeout", str(self.node_timeout_ms),
                 # A replica fails over however long it has been apart from its master.
                 "--cluster-replica-validity-factor", "0",
                 # A replica's first sync starts at once, not after the default 5 s wait.
                 "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.processes[port] = process
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    if node_command(port, "PING", timeout=0.5) == "PONG":
                        return port
                except OSError:
                    time.sleep(0.02)
            if process.poll() is None:
                raise RuntimeError(f"redis-server :{port} did not answer PING\n{self.logs()}")
            log = self.log(port).read_text(errors="replace") if self.log(port).exists() else ""
            if "Address already in use" not in log:
                raise RuntimeError(f"redis-server :{port} exited\n{self.logs()}")
            del self.processes[port]  # lost the race for the port: try others
        raise RuntimeError(f"no redis-server found free ports to start on\n{self.logs()}")

    def _create(self, ports: list[int], deadline: float) -> None:
        # redis-cli makes replicas of the nodes after the first `masters`, in its own pairing.
        result = subprocess.run(
            ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{port}" for port in ports),
             "--cluster-replicas", str(self.replicas), "--cluster-yes"],
            capture_output=True, text=True, timeout=max(1.0, deadline - time.monotonic()),
            check=False, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed ({result.returncode}):\n"
                               f"{result.stdout}\n{result.stderr}\n{self.logs()}")

    def _wait_until(self, what: str, ready: Callable[[], bool], deadline: float) -> None:
        while True:
            try:
                if ready():
                    return
            except (OSError, RedisError):
                pass  # a node not yet up, or one just killed: ask again
            if time.monotonic() >= deadline:
                raise RuntimeError(f"timed out waiting until {what}\n"
                                   f"{self._describe()}\n{self.logs()}")
            time.sleep(0.05)

    def _describe(self) -> str:
        """What each running node says of the cluster, for an error message."""
        lines = []
        for port in self.ports:
            if not self.running(port):
                lines.append(f":{port} killed")
                continue
            try:
                info = _fields(node_command(port, "CLUSTER", "INFO", timeout=1))
                lines.append(f":{port} cluster_state:{info.get('cluster_state')} "
                             f"cluster_slots_ok:{info.get('cluster_slots_ok')} "
                             f"known_nodes:{info.get('cluster_known_nodes')}")
            except (OSError, RedisError) as error:
                lines.append(f":{port} {error!r}")
        return "\n".join(lines)

    def _cluster_ok(self, port: int) -> bool:
        info = _fields(node_command(port, "CLUSTER", "INFO", timeout=1))
        return (info.get("cluster_state") == "ok"
                and info.get("cluster_slots_ok") == str(ALL_SLOTS)
                and info.get("cluster_known_nodes") == str(len(self.processes)))

    def _healthy(self) -> bool:
        """Every running node sees the cluster ok, and every replica is in sync."""
        live = [port for port in self.ports if self.running(port)]
        if not all(self._cluster_ok(port) for port in live):
            return False
        for node in self.nodes():
            if node.port in live and not node.is_master:
                info = _fields(node_command(node.port, "INFO", "replication", timeout=1))
                if info.get("master_link_status") != "up":
                    return False
        return True

    # Looking

    def nodes(self) -> list[ClusterNodeView]:
        """`CLUSTER NODES` as the first running node sees it."""
        for port in self.ports:
            if self.running(port):
                return _parse_nodes(node_command(port, "CLUSTER", "NODES", timeout=1))
        raise RuntimeError("no node of the cluster is running")

    def masters(self) -> list[int]:
        """The ports of the masters that serve slots now (a failed one does not)."""
        return sorted(node.port for node in self.nodes()
                      if node.is_master and not node.failed and node.slots)

    def replicas_of(self, port: int) -> list[int]:
        by_port = {node.port: node for node in self.nodes()}
        return sorted(node.port for node in by_port.values()
                      if node.master_id == by_port[port].id)

    def keys_per_node(self) -> dict[int, int]:
        """How many keys each master holds (`DBSIZE`), by port."""
        return {port: int(node_command(port, "DBSIZE")) for port in self.masters()}

    # Changing

    def flush(self) -> None:
        """Every key gone: `FLUSHALL` on every master (their replicas follow)."""
        for port in self.masters():
            assert node_command(port, "FLUSHALL") == "OK"

    def kill_master(self, port: int) -> None:
        """SIGKILL one master, as in a crash: no shutdown code runs."""
        assert port in self.masters(), f":{port} is not a master serving slots"
        self._replicas_of_killed[port] = self.replicas_of(port)
        process = self.processes[port]
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def wait_for_failover(self, killed_port: int, timeout: float = 15) -> int:
        """Waits until a replica of the master killed on `killed_port` serves its slots and the
        cluster is ok again on every surviving node; the new master's port."""
        candidates = self._replicas_of_killed[killed_port]
        assert candidates, f":{killed_port} had no replica to take over"
        promoted: list[int] = []

        def taken_over() -> bool:
            masters = self.masters()
            promoted[:] = [port for port in candidates if port in masters]
            if not promoted:
                return False
            live = [port for port in self.ports if self.running(port)]
            return all(_fields(node_command(port, "CLUSTER", "INFO", timeout=1))
                       .get("cluster_state") == "ok" for port in live)

        self._wait_until(f"a replica of :{killed_port} ({candidates}) takes over", taken_over,
                         time.monotonic() + timeout)
        return promoted[0]

    def stop(self, patience: float = 10) -> None:
        """SIGTERM to every node still running, SIGKILL to any not stopped within `patience`
        seconds. The files stay in `workdir`, which the test's tmp dir owns."""
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(patience)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
