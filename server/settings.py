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
