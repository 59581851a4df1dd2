"""Settings: constants read once from the environment (or a .env file), CASTIMER_* names.

The command line's `--engine` wins over CASTIMER_ENGINE: it sets the variable before this
module is first imported."""

from __future__ import annotations

import os

from starlette.config import Config

config = Config(".env" if os.path.exists(".env") else None)


ENGINE: str = config("CASTIMER_ENGINE", default="sqlite:///castimer.db")
#: Base of the URLs in timer JSON (widget, embed, control); empty: taken from each request.
PUBLIC_URL: str = config("CASTIMER_PUBLIC_URL", default="").rstrip("/")
ALLOW_PRIVATE_WEBHOOKS: bool = config("CASTIMER_ALLOW_PRIVATE_WEBHOOKS", cast=bool,
                                      default=False)
#: Longest gap between the scheduler's looks at the store when no wake-up arrives (seconds).
SCHEDULER_POLL: float = config("CASTIMER_SCHEDULER_POLL", cast=float, default=1.0)
#: Largest request body the API reads (bytes).
MAX_BODY: int = config("CASTIMER_MAX_BODY", cast=int, default=64 * 1024)

# Websockets (docs/websockets.md).
#: Most sockets one client address may hold open at once.
WS_MAX_CONNECTIONS_PER_IP: int = config("CASTIMER_WS_MAX_CONNECTIONS_PER_IP", cast=int,
                                        default=200)
#: Largest inbound frame (bytes); larger frames close the socket (1009).
WS_MAX_MESSAGE: int = config("CASTIMER_WS_MAX_MESSAGE", cast=int, default=4096)
#: Inbound messages per second a socket may send on average, and in a burst.
WS_MESSAGES_PER_SECOND: float = config("CASTIMER_WS_MESSAGES_PER_SECOND", cast=float,
                                       default=10.0)
WS_MESSAGE_BURST: int = config("CASTIMER_WS_MESSAGE_BURST", cast=int, default=20)
#: Protocol pings: one every this many seconds; no pong within the timeout closes.
WS_PING_INTERVAL: float = config("CASTIMER_WS_PING_INTERVAL", cast=float, default=20.0)
WS_PING_TIMEOUT: float = config("CASTIMER_WS_PING_TIMEOUT", cast=float, default=20.0)
#: A socket whose send is stuck this long (the client stopped reading) is dropped.
WS_STALL_TIMEOUT: float = config("CASTIMER_WS_STALL_TIMEOUT", cast=float, default=30.0)
#: Seconds a control socket has to authenticate with its first message.
WS_AUTH_TIMEOUT: float = config("CASTIMER_WS_AUTH_TIMEOUT", cast=float, default=5.0)
