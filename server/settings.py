"""Settings: constants read once from the environment (or a .env file), CASTIMER_* names.

The command line's `--engine` wins over CASTIMER_ENGINE: it sets the variable before this
module is first imported."""

from __future__ import annotations

import os
import secrets

from starlette.config import Config
from starlette.datastructures import Secret

from .webhooks.retries import parse_schedule

config = Config(".env" if os.path.exists(".env") else None)


ENGINE: str = config("CASTIMER_ENGINE", default="sqlite:///castimer.db")
#: Base of the URLs in timer JSON (widget, embed, control); empty: taken from each request.
PUBLIC_URL: str = config("CASTIMER_PUBLIC_URL", default="").rstrip("/")
#: 0 hides the Castimer branding in every widget of this server; with 1 (the default) only
#: live timers of paid plans may hide it (the widget's show_brand=0).
BRANDING: bool = config("CASTIMER_BRANDING", cast=bool, default=True)
ALLOW_PRIVATE_WEBHOOKS: bool = config("CASTIMER_ALLOW_PRIVATE_WEBHOOKS", cast=bool,
                                      default=False)
#: How many shards a new Redis store spreads its keys over (each a hash tag: a slot on a Redis
#: Cluster); fixed when a store is first used and recorded in it (docs/engines.md).
REDIS_SHARDS: int = config("CASTIMER_REDIS_SHARDS", cast=int, default=16)
#: Longest gap between the scheduler's looks at the store when no wake-up arrives (seconds).
SCHEDULER_POLL: float = config("CASTIMER_SCHEDULER_POLL", cast=float, default=1.0)
#: Signs the dashboard's session cookies. Unset: a random key per process, so sessions end with
#: a restart and do not carry between processes; set it when running several.
SECRET_KEY_GIVEN: bool = bool(config("CASTIMER_SECRET_KEY", default=""))
SECRET_KEY: Secret = config("CASTIMER_SECRET_KEY", cast=Secret,
                            default=secrets.token_urlsafe(32))
#: Seconds a dashboard session lasts after sign-in (the key is re-checked on every request).
SESSION_MAX_AGE: int = config("CASTIMER_SESSION_MAX_AGE", cast=int, default=12 * 3600)
#: Bearer token `GET /metrics` requires; unset, only direct loopback clients may scrape.
METRICS_TOKEN: Secret = config("CASTIMER_METRICS_TOKEN", cast=Secret, default="")
#: Largest request body the API reads (bytes).
MAX_BODY: int = config("CASTIMER_MAX_BODY", cast=int, default=64 * 1024)

#: Seconds a connection has to send a request's complete headers (server/edge.py).
HEADER_TIMEOUT: float = config("CASTIMER_HEADER_TIMEOUT", cast=float, default=10.0)
#: Most connections one client address may have still sending request headers; 0: no cap.
HEADER_CONNECTIONS_PER_IP: int = config("CASTIMER_HEADER_CONNECTIONS_PER_IP", cast=int,
                                        default=100)

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

# Webhooks (docs/webhooks.md).
#: Delay before each attempt in seconds: the first (0) from the event, each later one from the
#: attempt before; as many attempts as values, then the delivery is failed.
WEBHOOK_RETRY_SCHEDULE: tuple[float, ...] = parse_schedule(
    config("CASTIMER_WEBHOOK_RETRY_SCHEDULE", default="0,60,300,1800,7200"))
#: Seconds an attempt may take, connection to last byte; slower counts as a failure.
WEBHOOK_TIMEOUT: float = config("CASTIMER_WEBHOOK_TIMEOUT", cast=float, default=10.0)
#: Seconds a dispatcher holds a claimed delivery; if it dies, another takes it over after this.
WEBHOOK_LEASE: float = config("CASTIMER_WEBHOOK_LEASE", cast=float,
                              default=WEBHOOK_TIMEOUT + 20.0)
#: Attempts in flight at once per process (and connections to receivers).
WEBHOOK_CONCURRENCY: int = config("CASTIMER_WEBHOOK_CONCURRENCY", cast=int, default=100)
#: Longest gap between a dispatcher's looks at the outbox when no wake-up arrives (seconds).
WEBHOOK_POLL: float = config("CASTIMER_WEBHOOK_POLL", cast=float, default=1.0)

if WEBHOOK_CONCURRENCY < 1 or WEBHOOK_TIMEOUT <= 0 or WEBHOOK_LEASE <= WEBHOOK_TIMEOUT:
    raise ValueError("CASTIMER_WEBHOOK_CONCURRENCY must be at least 1, CASTIMER_WEBHOOK_TIMEOUT "
                     "above 0, and CASTIMER_WEBHOOK_LEASE longer than the timeout; got "
                     f"{WEBHOOK_CONCURRENCY}, {WEBHOOK_TIMEOUT:g}, {WEBHOOK_LEASE:g}")
if HEADER_TIMEOUT <= 0 or HEADER_CONNECTIONS_PER_IP < 0:
    raise ValueError("CASTIMER_HEADER_TIMEOUT must be above 0 and "
                     "CASTIMER_HEADER_CONNECTIONS_PER_IP at least 0 (0: no cap); got "
                     f"{HEADER_TIMEOUT:g}, {HEADER_CONNECTIONS_PER_IP}")
