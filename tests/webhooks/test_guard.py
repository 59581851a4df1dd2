"""The connect-time guard: a canary listener on loopback receives nothing from a guarded client,
whatever name or encoding points at it, and does receive when private targets are allowed (so
the canary would notice)."""

from __future__ import annotations

import asyncio
import ipaddress

import httpx
import pytest

from server.webhooks.urls import UnsafeTarget, guarded_transport, resolve

pytestmark = pytest.mark.anyio


@pytest.fixture
async def canary():
    hits: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hits.append(await reader.read(1024))
        writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    servers = [await asyncio.start_server(answer, host, 0) for host in ("127.0.0.1", "::1")]
    ports = [s.sockets[0].getsockname()[1] for s in servers]
    yield ports, hits
    for server in servers:
        server.close()
        await server.wait_closed()


def targets(ports: list[int]) -> list[str]:
    v4, v6 = ports
    return [f"http://127.0.0.1:{v4}/", f"http://[::1]:{v6}/", f"http://localhost:{v4}/",
            f"http://2130706433:{v4}/", f"http://0177.0.0.1:{v4}/", f"http://0x7f.1:{v4}/",
            f"http://[::ffff:127.0.0.1]:{v4}/", f"http://0.0.0.0:{v4}/",
            f"http://rebinding.test:{v4}/"]


async def rebinding_or_real(host: str, port: int):
    """`rebinding.test` answers a public address and loopback: every answer is checked."""
    if host == "rebinding.test":
        return [ipaddress.ip_address("93.184.215.14"), ipaddress.ip_address("127.0.0.1")]
    return await resolve(host, port)


async def test_no_private_target_is_reached(canary):
    ports, hits = canary
    transport = guarded_transport(False, resolver=rebinding_or_real)
    async with httpx.AsyncClient(transport=transport, timeout=5) as http:
        for url in targets(ports):
            # httpx itself already refuses some old encodings (0177.0.0.1) as invalid URLs.
            with pytest.raises((UnsafeTarget, httpx.InvalidURL)):
                await http.post(url, content=b"{}")
    assert hits == []


async def test_the_canary_hears_when_private_targets_are_allowed(canary):
    ports, hits = canary
    async with httpx.AsyncClient(transport=guarded_transport(True), timeout=5) as http:
        for url in targets(ports)[:4]:
            assert (await http.post(url, content=b"{}")).status_code == 204
    assert len(hits) == 4
