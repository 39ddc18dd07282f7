"""The one Slack I/O module: WebClient construction, per-channel pacing, error classification, posters.

Two posters share the ``SlackPoster`` protocol: ``WebApiPoster`` talks to the Web API through a
``slack_sdk.WebClient`` (retrying rate limits and server errors, never re-sending a message after a
dropped connection), and ``DryRunPoster`` writes the exact payloads to a JSONL file. Every failure is
turned into one of three project errors:

- ``SlackConfigError``: an operator must fix something (token, scope, channel membership);
- ``SlackUnavailableError``: Slack is down or slow; try again later (``maybe_sent`` when a message may
  have been accepted before the connection broke);
- ``SlackRejectedError``: Slack refused this one request (a bug in message building).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import random
import socket
import threading
import time
import urllib.error
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler, RetryHandler
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.jitter import Jitter
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from pipeline.errors import SlackConfigError, SlackError
from pipeline.settings import CHANNEL_ID_RE, Settings
from pipeline.slack.blocks import METADATA_EVENT_TYPE, fit, render_preview

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://slack.com/api/"
CONNECTION_NAME = "slack_api_default"
DRY_RUN_NAMESPACE = "dry-run:"

# Errors that no retry can fix. Token errors stop every channel; channel errors only their channel.
TOKEN_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "no_permission",
        "not_allowed_token_type",
        "team_access_not_granted",
        "ekm_access_denied",
        "org_login_required",
        "two_factor_setup_required",
    }
)
CHANNEL_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "restricted_action_non_threadable_channel",
    }
)
RETRYABLE_ERRORS = frozenset(
    {"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
# Methods that create something: re-sending them after a lost connection could duplicate it.
_NON_IDEMPOTENT_METHODS = ("chat.postMessage", "files.completeUploadExternal")
# Seconds between two calls of one read method (conversations.history, .replies, reactions.get: Tier 3).
READ_INTERVAL = 1.2


class SlackUnavailableError(SlackError):
    """Slack could not be reached or answered 429/5xx after the retries: try again on a later run.

    ``maybe_sent`` is true when a message may have been accepted before the connection broke, so it must
    be looked up (by its alert id in message metadata) before it is sent again.
    """

    def __init__(
        self,
        message: str,
        *,
        error_code: str | None = None,
        maybe_sent: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, error_code=error_code)
        self.maybe_sent = maybe_sent
        self.retry_after = retry_after


class SlackRejectedError(SlackError):
    """Slack refused one request for a reason a retry cannot fix (invalid_blocks, msg_too_long ...)."""


def is_token_error(error: SlackError) -> bool:
    """True when ``error`` concerns the token or app (every channel fails), not one channel."""
    return error.error_code in TOKEN_ERRORS


def config_hint(code: str, channel: str | None = None, needed: str | None = None) -> str:
    """What an operator should do about a non-retryable Slack error."""
    where = channel or "the channel"
    token = f"check the bot token in Airflow connection {CONNECTION_NAME} (password), or SLACK_BOT_TOKEN"
    hints = {
        "invalid_auth": token,
        "not_authed": token,
        "token_revoked": f"the token was revoked: reinstall the Slack app, then {token}",
        "token_expired": f"the token expired: {token}",
        "account_inactive": "the bot or the user that installed the app was deactivated: reinstall the app "
        f"and put the new bot token in connection {CONNECTION_NAME}",
        "missing_scope": f"add the scope {needed or '(see docs/slack.md)'} to the Slack app "
        f"(OAuth & Permissions), reinstall it and update connection {CONNECTION_NAME}",
        "not_allowed_token_type": f"use a bot token (xoxb-...) in connection {CONNECTION_NAME}",
        "channel_not_found": f"channel {where} was not found: check config/routing.yaml and NEWS_SLACK_CHANNEL; "
        f"for a private channel, invite the bot to {where}",
        "not_in_channel": f"invite the bot to {where} (type /invite @<bot name> in {where})",
        "is_archived": f"channel {where} is archived: unarchive it or route alerts elsewhere in config/routing.yaml",
    }
    if code in hints:
        return hints[code]
    if code.startswith("restricted_action"):
        return f"the bot may not post in {where}: ask a workspace admin, or route alerts elsewhere"
    return f"the Slack app lacks permission ({code}): check its scopes and installation"


@dataclass(frozen=True)
class PostedMessage:
    """Where a message landed: the channel as given, its id (when known) and the message ts."""

    channel: str
    ts: str
    channel_id: str | None = None


@dataclass(frozen=True)
class Reaction:
    """One emoji on a message and every user who reacted with it."""

    name: str
    users: tuple[str, ...]


@dataclass(frozen=True)
class ReactedMessage:
    """A message's reactions; ``thread_ts`` is set for a reply in a thread."""

    ts: str
    thread_ts: str | None
    reactions: tuple[Reaction, ...]


class SlackPoster(Protocol):
    """What the alerting code needs from Slack. ``namespace`` prefixes ledger channels ("" or "dry-run:")."""

    namespace: str

    def post_message(self, payload: Mapping[str, Any]) -> PostedMessage:
        """Send one ``chat.postMessage`` payload; raise a ``SlackError`` subclass on failure."""
        ...

    def update_message(self, payload: Mapping[str, Any]) -> PostedMessage:
        """Replace an existing message with one ``chat.update`` payload (``channel``, ``ts``, ``text``,
        ``blocks``); idempotent, so it may be repeated. Raise a ``SlackError`` subclass on failure."""
        ...

    def find_by_alert_id(
        self, channel: str, alert_id: str, *, oldest: datetime, thread_ts: str | None = None
    ) -> PostedMessage | None:
        """The message carrying ``alert_id`` in its metadata, posted since ``oldest`` (None: not there)."""
        ...

    def permalink(self, channel: str, ts: str) -> str | None:
        """A link to a message, or None when it cannot be had (never raises)."""
        ...

    def read_reactions(
        self, channel: str, *, oldest: datetime, thread_ts: str | None = None
    ) -> list[ReactedMessage]:
        """Every message of ``channel`` posted since ``oldest`` (with ``thread_ts``: of that thread) with its
        reactions (an empty tuple when it has none); [] from a poster that cannot read Slack."""
        ...

    def upload_file(
        self,
        channel: str,
        *,
        content: bytes,
        filename: str,
        title: str,
        initial_comment: str | None = None,
        thread_ts: str | None = None,
    ) -> str:
        """Upload a file into ``channel`` (optionally a thread); return its file id."""
        ...


# --- pacing ---------------------------------------------------------------------------------------------


class ChannelPacer:
    """At most one message per ``min_interval`` seconds per channel (Slack allows about one per second)."""

    def __init__(
        self,
        min_interval: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.min_interval = min_interval
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def with_interval(self, min_interval: float) -> ChannelPacer:
        """A pacer with another interval on the same clock (reads are paced apart from posts)."""
        return ChannelPacer(min_interval, clock=self._clock, sleep=self._sleep)

    def wait(self, channel: str) -> float:
        """Block until ``channel`` may receive the next message; return the seconds waited."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next.get(channel, now))
            self._next[channel] = slot + self.min_interval
        delay = slot - now
        if delay > 0:
            self._sleep(delay)
        return max(delay, 0.0)


# --- retry handlers -------------------------------------------------------------------------------------


class PacedRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """Honours ``Retry-After`` with an injectable sleep; gives up when Slack asks for more than ``max_wait``."""

    def __init__(
        self, max_retry_count: int = 2, *, sleep: Callable[[float], None] = time.sleep, max_wait: float = 60.0
    ) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._sleep = sleep
        self.max_wait = max_wait
        self.waits: list[float] = []

    @staticmethod
    def retry_after(response: HttpResponse | None) -> float:
        if response is None:
            return 1.0
        for key, values in response.headers.items():
            if key.lower() == "retry-after":
                raw = values[0] if isinstance(values, list) else values
                try:
                    return max(float(raw), 0.0)
                except (TypeError, ValueError):
                    return 1.0
        return 1.0

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return (
            super()._can_retry(state=state, request=request, response=response, error=error)
            and self.retry_after(response) <= self.max_wait
        )

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        wait = self.retry_after(response) + random.uniform(0, 0.25)
        self.waits.append(wait)
        self._sleep(wait)
        state.increment_current_attempt()


class ServerErrorsRetryHandler(ServerErrorRetryHandler):
    """Retries 500, 502, 503 and 504 (the built-in handler stops at 500 and 503)."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code in (500, 502, 503, 504)


class ReadOnlyConnectionRetryHandler(ConnectionErrorRetryHandler):
    """Retries connection errors only for methods that create nothing: a re-sent post may post twice."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if any(request.url.rstrip("/").endswith(m) for m in _NON_IDEMPOTENT_METHODS):
            return False
        return super()._can_retry(state=state, request=request, response=response, error=error)


class ProportionalJitter(Jitter):
    """Adds up to 100% of the wait (the SDK's default adds up to a whole second, whatever the wait)."""

    def recalculate(self, duration: float) -> float:
        return duration + random.uniform(0, duration)


def retry_handlers(
    *,
    max_retries: int = 2,
    sleep: Callable[[float], None] = time.sleep,
    backoff: float = 0.5,
    max_rate_limit_wait: float = 60.0,
) -> list[RetryHandler]:
    """The project's retries for a ``WebClient``: rate limits (``Retry-After``), 5xx, and connection errors
    of methods that create nothing (a re-sent post could post twice; the ledger looks it up instead).

    ``sleep`` and ``backoff`` make the waits short in tests; production keeps the defaults.
    """
    intervals = BackoffRetryIntervalCalculator(backoff_factor=backoff, jitter=ProportionalJitter())
    return [
        PacedRateLimitRetryHandler(max_retries, sleep=sleep, max_wait=max_rate_limit_wait),
        ServerErrorsRetryHandler(max_retry_count=max_retries, interval_calculator=intervals),
        ReadOnlyConnectionRetryHandler(max_retry_count=max_retries, interval_calculator=intervals),
    ]


def make_client(
    token: str,
    *,
    base_url: str | None = None,
    timeout: int = 30,
    max_retries: int = 2,
    sleep: Callable[[float], None] = time.sleep,
    backoff: float = 0.5,
    max_rate_limit_wait: float = 60.0,
) -> WebClient:
    """A WebClient with the project's ``retry_handlers`` (outside Airflow; in Airflow the provider's
    ``SlackHook`` builds it from the connection ``slack_api_default``)."""
    url = base_url or DEFAULT_BASE_URL
    if not url.endswith("/"):
        url += "/"
    handlers = retry_handlers(
        max_retries=max_retries, sleep=sleep, backoff=backoff, max_rate_limit_wait=max_rate_limit_wait
    )
    return WebClient(token=token, base_url=url, timeout=timeout, retry_handlers=handlers)


# --- error classification -------------------------------------------------------------------------------


def classify_api_error(error: SlackApiError, *, method: str, channel: str | None, sends: bool) -> SlackError:
    """Turn a ``SlackApiError`` into a ``SlackConfigError``, ``SlackUnavailableError`` or ``SlackRejectedError``."""
    response = error.response
    status = int(getattr(response, "status_code", 0) or 0)
    data = response.data if isinstance(getattr(response, "data", None), dict) else {}
    # A 5xx body is often an HTML page; the status says all there is to say.
    code = f"http_{status}" if status >= 500 else str(data.get("error") or f"http_{status}")
    where = f" ({channel})" if channel else ""
    if status == 429 or code in ("ratelimited", "rate_limited"):
        headers = getattr(response, "headers", {}) or {}
        raw = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
        try:
            retry_after: float | None = float(raw[0] if isinstance(raw, list) else raw) if raw else None
        except (TypeError, ValueError):
            retry_after = None
        return SlackUnavailableError(
            f"Slack rate limit on {method}{where} persisted after retries",
            error_code=code,
            retry_after=retry_after,
        )
    if status >= 500 or code in RETRYABLE_ERRORS:
        return SlackUnavailableError(
            f"Slack is unavailable: {method}{where} answered {code} after retries",
            error_code=code,
            maybe_sent=sends,
        )
    if code in TOKEN_ERRORS or code in CHANNEL_ERRORS:
        hint = config_hint(code, channel, data.get("needed"))
        return SlackConfigError(f"Slack {method}{where} failed with {code}: {hint}", error_code=code)
    detail = data.get("errors") or data.get("response_metadata", {}).get("messages") or ""
    return SlackRejectedError(f"Slack rejected {method}{where}: {code} {detail}".strip(), error_code=code)


def _connection_error(error: BaseException, *, method: str, channel: str | None, sends: bool) -> SlackError:
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    # Refused or unresolvable: the request never left, so nothing can have been posted.
    never_sent = isinstance(reason, (ConnectionRefusedError, socket.gaierror))
    where = f" ({channel})" if channel else ""
    maybe = sends and not never_sent
    note = "; it may have been posted, so it will be looked up before any new attempt" if maybe else ""
    return SlackUnavailableError(
        f"cannot reach Slack for {method}{where}: {type(reason).__name__}: {reason}{note}",
        error_code="connection_error",
        maybe_sent=maybe,
    )


_T = TypeVar("_T")


def _call(method: str, channel: str | None, fn: Callable[[], _T], *, sends: bool = False) -> _T:
    try:
        return fn()
    except SlackApiError as e:
        raise classify_api_error(e, method=method, channel=channel, sends=sends) from e
    except SlackRequestError as e:
        raise SlackUnavailableError(f"Slack request {method} failed: {e}", error_code="request_error") from e
    except (OSError, http.client.HTTPException) as e:
        # URLError, RemoteDisconnected, ConnectionResetError and timeouts are all OSError subclasses.
        raise _connection_error(e, method=method, channel=channel, sends=sends) from e


# --- posters --------------------------------------------------------------------------------------------


class WebApiPoster:
    """Posts through the Slack Web API, one channel at a time, paced."""

    namespace = ""

    def __init__(
        self,
        client: WebClient,
        *,
        pacer: ChannelPacer | None = None,
        read_pacer: ChannelPacer | None = None,
        max_pages: int = 20,
    ) -> None:
        self.client = client
        self.pacer = pacer or ChannelPacer()
        # Reads are Tier 3 methods (about 50 calls a minute each): one call per method every 1.2 s.
        self.read_pacer = read_pacer or self.pacer.with_interval(READ_INTERVAL)
        self.max_pages = max_pages
        self._channel_ids: dict[str, str] = {}

    def post_message(self, payload: Mapping[str, Any]) -> PostedMessage:
        channel = str(payload["channel"])
        self.pacer.wait(channel)
        response = _call(
            "chat.postMessage", channel, lambda: self.client.chat_postMessage(**payload), sends=True
        )
        channel_id = response.get("channel")
        if channel_id:
            self._channel_ids[channel] = str(channel_id)
        return PostedMessage(channel=channel, ts=str(response["ts"]), channel_id=channel_id)

    def update_message(self, payload: Mapping[str, Any]) -> PostedMessage:
        # chat.update takes a channel id only, never a #name.
        channel = str(payload["channel"])
        channel_id = self._visible_channel_id(channel, "edit a message in")
        self.pacer.wait(channel)
        args = {**payload, "channel": channel_id}
        response = _call("chat.update", channel, lambda: self.client.chat_update(**args))
        return PostedMessage(
            channel=channel, ts=str(response.get("ts") or payload["ts"]), channel_id=channel_id
        )

    def _visible_channel_id(self, channel: str, action: str) -> str:
        """The id of ``channel``, or a ``SlackConfigError`` saying that the bot cannot ``action`` it."""
        channel_id = self.channel_id(channel)
        if channel_id is None:
            raise SlackConfigError(
                f"cannot {action} {channel}: {config_hint('channel_not_found', channel)}",
                error_code="channel_not_found",
            )
        return channel_id

    def channel_id(self, channel: str) -> str | None:
        """The id of ``channel`` (a name like ``#chip-news`` or an id); None when the bot cannot see it."""
        if CHANNEL_ID_RE.match(channel):
            return channel
        if channel in self._channel_ids:
            return self._channel_ids[channel]
        name = channel.lstrip("#")
        cursor: str | None = None
        for _ in range(self.max_pages):
            args: dict[str, Any] = {"types": "public_channel,private_channel", "exclude_archived": True}
            if cursor:
                args["cursor"] = cursor
            response = _call(
                "conversations.list", channel, partial(self.client.conversations_list, limit=1000, **args)
            )
            for item in response.get("channels") or []:
                self._channel_ids.setdefault(f"#{item.get('name')}", str(item.get("id")))
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if f"#{name}" in self._channel_ids or not cursor:
                break
        return self._channel_ids.get(f"#{name}")

    def _messages(
        self, channel: str, channel_id: str, *, oldest: datetime, thread_ts: str | None, metadata: bool
    ) -> Iterator[dict[str, Any]]:
        """The messages of a channel since ``oldest`` (or of one thread), page by page, paced."""
        method = "conversations.replies" if thread_ts else "conversations.history"
        cursor: str | None = None
        for _ in range(self.max_pages):
            args: dict[str, Any] = {
                "channel": channel_id,
                "oldest": f"{oldest.timestamp():.6f}",
                "include_all_metadata": metadata,
                "limit": 200,
            }
            if cursor:
                args["cursor"] = cursor
            self.read_pacer.wait(method)
            if thread_ts:
                response = _call(
                    method, channel, partial(self.client.conversations_replies, ts=thread_ts, **args)
                )
            else:
                response = _call(method, channel, partial(self.client.conversations_history, **args))
            yield from response.get("messages") or []
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return
        log.warning("%s of %s: stopped after %d pages", method, channel, self.max_pages)

    def find_by_alert_id(
        self, channel: str, alert_id: str, *, oldest: datetime, thread_ts: str | None = None
    ) -> PostedMessage | None:
        channel_id = self.channel_id(channel)
        if channel_id is None:
            # A channel the bot cannot see cannot hold a message the bot posted; posting will tell why.
            log.info("channel %s not visible to the bot: alert %s cannot be in it", channel, alert_id)
            return None
        for message in self._messages(channel, channel_id, oldest=oldest, thread_ts=thread_ts, metadata=True):
            metadata = message.get("metadata") or {}
            if (
                metadata.get("event_type") == METADATA_EVENT_TYPE
                and (metadata.get("event_payload") or {}).get("alert_id") == alert_id
            ):
                return PostedMessage(channel=channel, ts=str(message["ts"]), channel_id=channel_id)
        return None

    def read_reactions(
        self, channel: str, *, oldest: datetime, thread_ts: str | None = None
    ) -> list[ReactedMessage]:
        channel_id = self.channel_id(channel)
        if channel_id is None:
            raise SlackConfigError(
                f"cannot read reactions in {channel}: {config_hint('channel_not_found', channel)}",
                error_code="channel_not_found",
            )
        out: list[ReactedMessage] = []
        for message in self._messages(
            channel, channel_id, oldest=oldest, thread_ts=thread_ts, metadata=False
        ):
            raw = message.get("reactions") or []
            ts = str(message["ts"])
            # History lists only the first users of a popular reaction: ask for all of them.
            if any(int(r.get("count") or 0) > len(r.get("users") or []) for r in raw):
                raw = self._all_reactions(channel, channel_id, ts)
            reactions = tuple(
                Reaction(name=str(r["name"]), users=tuple(str(u) for u in r.get("users") or []))
                for r in raw
                if r.get("name")
            )
            parent = message.get("thread_ts")
            out.append(
                ReactedMessage(
                    ts=ts, thread_ts=str(parent) if parent and parent != ts else None, reactions=reactions
                )
            )
        return out

    def _all_reactions(self, channel: str, channel_id: str, ts: str) -> list[dict[str, Any]]:
        self.read_pacer.wait("reactions.get")
        response = _call(
            "reactions.get",
            channel,
            lambda: self.client.reactions_get(channel=channel_id, timestamp=ts, full=True),
        )
        return list((response.get("message") or {}).get("reactions") or [])

    def permalink(self, channel: str, ts: str) -> str | None:
        try:
            target = self._channel_ids.get(channel) or self.channel_id(channel) or channel
            response = _call(
                "chat.getPermalink",
                channel,
                lambda: self.client.chat_getPermalink(channel=target, message_ts=ts),
            )
        except SlackError as e:
            log.warning("no permalink for %s in %s: %s", ts, channel, e)
            return None
        link = response.get("permalink")
        return str(link) if link else None

    def upload_file(
        self,
        channel: str,
        *,
        content: bytes,
        filename: str,
        title: str,
        initial_comment: str | None = None,
        thread_ts: str | None = None,
    ) -> str:
        channel_id = self._visible_channel_id(channel, f"upload {filename} to")
        self.pacer.wait(channel)
        response = _call(
            "files.uploadV2",
            channel,
            lambda: self.client.files_upload_v2(
                channel=channel_id,
                content=content,
                filename=filename,
                title=fit(title, 250),
                initial_comment=fit(initial_comment, 1000) if initial_comment else None,
                thread_ts=thread_ts,
            ),
            sends=True,
        )
        file = response.get("file") or {}
        return str(file.get("id", ""))

    def auth_test(self) -> dict[str, Any]:
        """Who the token belongs to (``auth.test``); raises ``SlackConfigError`` for a bad token."""
        response = _call("auth.test", None, self.client.auth_test)
        return dict(response.data) if isinstance(response.data, dict) else {}


class DryRunPoster:
    """Writes the exact ``chat.postMessage`` payloads to a JSONL file instead of Slack.

    Each line is ``{"method": "chat.postMessage", "payload": {...}, "ts": "..."}`` (``chat.update`` for an
    edit of the message ``ts``); uploads are one
    descriptive ``files.uploadV2`` line (the file itself is saved beside the JSONL). ``previews`` holds a
    readable rendering of every message written by this poster.
    """

    namespace = DRY_RUN_NAMESPACE

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        self._last_ts = 0.0
        self._lock = threading.Lock()
        self.previews: list[str] = []

    def _next_ts(self) -> str:
        with self._lock:
            self._last_ts = max(self._clock(), self._last_ts + 0.000001)
            return f"{self._last_ts:.6f}"

    def _write(self, record: Mapping[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")

    def post_message(self, payload: Mapping[str, Any]) -> PostedMessage:
        ts = self._next_ts()
        self._write({"method": "chat.postMessage", "payload": dict(payload), "ts": ts})
        preview = render_preview(payload)
        self.previews.append(preview)
        log.debug("dry run: would post to %s:\n%s", payload.get("channel"), preview)
        return PostedMessage(channel=str(payload["channel"]), ts=ts)

    def update_message(self, payload: Mapping[str, Any]) -> PostedMessage:
        self._write({"method": "chat.update", "payload": dict(payload), "ts": str(payload["ts"])})
        preview = render_preview(payload)
        self.previews.append(preview)
        log.debug("dry run: would edit %s in %s:\n%s", payload.get("ts"), payload.get("channel"), preview)
        return PostedMessage(channel=str(payload["channel"]), ts=str(payload["ts"]))

    def records(self) -> list[dict[str, Any]]:
        """Every line of the dry-run file (unreadable lines are skipped)."""
        if not self.path.exists():
            return []
        out: list[dict[str, Any]] = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out

    def find_by_alert_id(
        self, channel: str, alert_id: str, *, oldest: datetime, thread_ts: str | None = None
    ) -> PostedMessage | None:
        for record in self.records():
            payload = record.get("payload") or {}
            metadata = payload.get("metadata") or {}
            if (
                record.get("method") == "chat.postMessage"
                and payload.get("channel") == channel
                and (metadata.get("event_payload") or {}).get("alert_id") == alert_id
            ):
                return PostedMessage(channel=channel, ts=str(record.get("ts", "")))
        return None

    def permalink(self, channel: str, ts: str) -> str | None:
        return None

    def read_reactions(
        self, channel: str, *, oldest: datetime, thread_ts: str | None = None
    ) -> list[ReactedMessage]:
        """Nothing: a dry run posts nowhere, so nobody can react."""
        return []

    def upload_file(
        self,
        channel: str,
        *,
        content: bytes,
        filename: str,
        title: str,
        initial_comment: str | None = None,
        thread_ts: str | None = None,
    ) -> str:
        digest = hashlib.sha256(content).hexdigest()
        folder = self.path.parent / f"{self.path.stem}-files"
        folder.mkdir(parents=True, exist_ok=True)
        saved = folder / f"{digest[:12]}-{Path(filename).name}"
        saved.write_bytes(content)
        self._write(
            {
                "method": "files.uploadV2",
                "channel": channel,
                "filename": filename,
                "title": title,
                "bytes": len(content),
                "sha256": digest,
                "thread_ts": thread_ts,
                "initial_comment": initial_comment,
                "saved_to": str(saved),
                "ts": self._next_ts(),
            }
        )
        self.previews.append(f"--- {channel}: file {filename} ({len(content)} bytes): {title}")
        return f"F-dry-{digest[:10]}"


def make_poster(settings: Settings, *, pacer: ChannelPacer | None = None) -> SlackPoster:
    """A Web API poster when ``settings.slack_token`` is set (``slack_base_url`` if given), else a dry run."""
    if settings.slack_token:
        client = make_client(settings.slack_token, base_url=settings.slack_base_url or None)
        return WebApiPoster(client, pacer=pacer)
    return DryRunPoster(settings.dry_run_file)
