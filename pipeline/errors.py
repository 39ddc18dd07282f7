"""The project's exceptions: one base, subclasses that carry the context an operator needs."""

from __future__ import annotations


class NewsMonitorError(Exception):
    """Base class of every error the project raises on purpose."""


class ConfigError(NewsMonitorError):
    """A configuration file or setting is invalid; the message names the file and the entry."""

    def __init__(self, message: str, *, path: str | None = None, entry: str | None = None) -> None:
        where = ""
        if path:
            where = f"{path}"
            if entry:
                where += f" [{entry}]"
            where += ": "
        super().__init__(where + message)
        self.path = path
        self.entry = entry


class FetchError(NewsMonitorError):
    """Fetching a URL failed (network, HTTP status, size or time limit)."""

    def __init__(self, message: str, *, url: str, status: int | None = None) -> None:
        super().__init__(f"{message} ({url})")
        self.url = url
        self.status = status


class BlockedURLError(FetchError):
    """The URL is not allowed: scheme, or a private/loopback/link-local address (SSRF guard)."""


class TooLargeError(FetchError):
    """The response exceeded its size cap."""


class DeadlineExceededError(FetchError):
    """The response did not complete within its overall deadline."""


class RetryLaterError(FetchError):
    """The server asked us to come back later (429/503 with Retry-After)."""

    def __init__(self, message: str, *, url: str, status: int | None = None, retry_after: float) -> None:
        super().__init__(message, url=url, status=status)
        self.retry_after = retry_after


class FeedParseError(NewsMonitorError):
    """A fetched document is not a usable feed (empty, HTML, JSON, binary, malformed)."""

    def __init__(self, message: str, *, url: str | None = None, feed_id: str | None = None) -> None:
        ctx = ", ".join(x for x in (f"feed {feed_id}" if feed_id else "", url or "") if x)
        super().__init__(f"{message} ({ctx})" if ctx else message)
        self.url = url
        self.feed_id = feed_id


class StoreError(NewsMonitorError):
    """The store cannot be used (unreachable database, schema newer than the code)."""


class ModelError(NewsMonitorError):
    """The classifier model is missing, untrusted or incompatible."""


class DatasetError(NewsMonitorError):
    """A labelled data file is unreadable or has an invalid line; the message names ``file:line``."""

    def __init__(self, message: str, *, path: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line


class SlackError(NewsMonitorError):
    """Posting to Slack failed."""

    def __init__(self, message: str, *, error_code: str | None = None, alert_id: str | None = None) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.alert_id = alert_id


class SlackConfigError(SlackError):
    """A non-retryable Slack error that an operator must fix (invalid_auth, channel_not_found ...)."""
