"""Settings: constants read once from the environment (or a .env file), CASTIMER_* names.

The command line's `--engine` wins over CASTIMER_ENGINE: it sets the variable before this
module is first imported."""

from __future__ import annotations

import os

from starlette.config import Config
from starlette.datastructures import CommaSeparatedStrings, Secret

config = Config(".env" if os.path.exists(".env") else None)


def _schedule(value: str) -> tuple[int, ...]:
    try:
        delays = tuple(int(part) for part in CommaSeparatedStrings(value))
    except ValueError:
        raise ValueError("CASTIMER_WEBHOOK_RETRY_SCHEDULE must be whole seconds separated by "
                         f"commas, like 0,60,300,1800,7200; got {value!r}") from None
    if not delays or any(d < 0 for d in delays):
        raise ValueError("CASTIMER_WEBHOOK_RETRY_SCHEDULE needs one or more delays ≥ 0")
    return delays


ENGINE: str = config("CASTIMER_ENGINE", default="sqlite:///castimer.db")
#: Base of the URLs in timer JSON (widget, embed, control); empty: taken from each request.
PUBLIC_URL: str = config("CASTIMER_PUBLIC_URL", default="").rstrip("/")
SECRET_KEY: Secret = config("CASTIMER_SECRET_KEY", cast=Secret, default="")
ALLOW_PRIVATE_WEBHOOKS: bool = config("CASTIMER_ALLOW_PRIVATE_WEBHOOKS", cast=bool,
                                      default=False)
WEBHOOK_RETRY_SCHEDULE: tuple[int, ...] = config("CASTIMER_WEBHOOK_RETRY_SCHEDULE",
                                                 cast=_schedule, default="0,60,300,1800,7200")
WEBHOOK_TIMEOUT: float = config("CASTIMER_WEBHOOK_TIMEOUT", cast=float, default=10.0)
BRANDING: bool = config("CASTIMER_BRANDING", cast=bool, default=True)
#: Longest gap between the scheduler's looks at the store when no wake-up arrives (seconds).
SCHEDULER_POLL: float = config("CASTIMER_SCHEDULER_POLL", cast=float, default=1.0)
#: Largest request body the API reads (bytes).
MAX_BODY: int = config("CASTIMER_MAX_BODY", cast=int, default=64 * 1024)
WS_MAX_CONNECTIONS_PER_IP: int = config("CASTIMER_WS_MAX_CONNECTIONS_PER_IP", cast=int,
                                        default=200)
