"""Castimer's Python client: `Castimer` (sync) and `AsyncCastimer` (asyncio) for the REST API,
`timers.live(id)` for a timer's live stream, `verify_webhook` for deliveries."""

from ._async_client import AsyncCastimer, AsyncPager
from ._client import Castimer, Pager
from ._core import __version__
from ._errors import (
    APIConnectionError,
    AuthenticationError,
    CastimerError,
    ConflictError,
    NotFoundError,
    RateLimitError,
    ServiceUnavailableError,
    ValidationError,
    WebhookVerificationError,
)
from ._live import LiveStream, LiveUpdate
from ._models import (
    Account,
    AccountLimits,
    AccountUsage,
    ApiKey,
    Attempt,
    Delivery,
    Event,
    Page,
    Rundown,
    RundownItem,
    RundownUrls,
    Timer,
    TimerMessage,
    TimerUrls,
    WebhookEvent,
    WebhookSecret,
)
from ._operations import RundownFields, TimerCreate, TimerFields
from ._webhooks import verify_webhook

__all__ = [
    "APIConnectionError", "Account", "AccountLimits", "AccountUsage", "ApiKey",
    "AsyncCastimer", "AsyncPager", "Attempt", "AuthenticationError", "Castimer",
    "CastimerError", "ConflictError", "Delivery", "Event", "LiveStream", "LiveUpdate",
    "NotFoundError", "Page", "Pager", "RateLimitError", "Rundown", "RundownFields",
    "RundownItem", "RundownUrls", "ServiceUnavailableError", "Timer", "TimerCreate", "TimerFields",
    "TimerMessage", "TimerUrls", "ValidationError", "WebhookEvent", "WebhookSecret",
    "WebhookVerificationError", "__version__", "verify_webhook",
]
