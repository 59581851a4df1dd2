"""Servers for webhook tests: private webhook targets allowed (the receiver is on loopback) and
the retry schedule shrunk through its setting, so retries take a second, not hours."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import ENGINES, sqlite_url
from tests.servers import Server
from tests.webhooks.receiver import Receiver

#: Delays before attempts 1 to 5, in seconds (the real default is 0,60,300,1800,7200).
SCHEDULE = (0, 0.3, 0.6, 0.9, 1.2)
HOOK_ENV = {"CASTIMER_ALLOW_PRIVATE_WEBHOOKS": "1",
            "CASTIMER_WEBHOOK_RETRY_SCHEDULE": ",".join(map(str, SCHEDULE)),
            "CASTIMER_WEBHOOK_POLL": "0.2", "CASTIMER_WEBHOOK_TIMEOUT": "2",
            "CASTIMER_WEBHOOK_LEASE": "3"}


@pytest.fixture(scope="module", params=ENGINES)
def hook_server(request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("hook-server")
    url = sqlite_url(workdir)
    if request.param == "redis":
        # Database 1 of the session's redis-server: the session's other servers (on database
        # 0, private webhooks not allowed, the real schedule) must not claim these deliveries.
        url = request.getfixturevalue("redis_server").url.removesuffix("/0") + "/1"
    running = Server(url, workdir, env=HOOK_ENV).start()
    yield running
    running.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running
