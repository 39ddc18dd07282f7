"""The console's FastAPI app: four read-only pages and the JSON API behind them.

Every route depends on ``require_user`` (set on the app, so a route added later is covered too). Pages
are rendered on the server with Jinja2 (autoescaping on); the Content-Security-Policy lets no script run
but the console's own ``console.js`` (it opens outside links from the UI's frame), and every link is
relative, so the console works under any URL prefix and behind a proxy.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.exceptions import HTTPException as StarletteHTTPException

from chip_news_airflow.console.auth import NotLoggedInError, is_api_request, not_logged_in, require_user
from chip_news_airflow.console.charts import week_chart
from chip_news_airflow.console.views import (
    AlertFilters,
    AlertPage,
    ConsoleContext,
    FeedPage,
    InvalidRequestError,
    ModelPage,
    PromotionReportOut,
    StoryPage,
    alerts_page,
    feeds_page,
    models_page,
    parse_day,
    promotion_report,
    stories_page,
)
from pipeline.errors import NewsMonitorError
from pipeline.settings import Settings
from pipeline.store import get_store

log = logging.getLogger(__name__)

URL_PREFIX = "/chip-news"
HERE = Path(__file__).parent
PAGES = (("alerts", "Alerts"), ("stories", "Stories"), ("feeds", "Feeds"), ("models", "Models"))
# Scripts and styles only from the console's own files (never inline, so nothing in a page can run),
# framed only by Airflow's own UI.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'self'; base-uri 'none'"
)

templates = Environment(
    loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined
)


def console_context() -> ConsoleContext:
    """The settings of this process (the API server's environment) and the store they name."""
    settings = Settings.from_env()
    return ConsoleContext(settings, get_store(settings.db_url))


Context = Annotated[ConsoleContext, Depends(console_context)]
Cursor = Annotated[str | None, Query(description="page cursor from the previous page's next_cursor")]
Limit = Annotated[int, Query(ge=1, le=200)]
StoryLimit = Annotated[int, Query(ge=1, le=100)]  # a story carries up to 20 sources
Offset = Annotated[int, Query(ge=0)]


def _local(value: datetime | None, tz: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.astimezone(ZoneInfo(tz)).strftime(fmt) if value else "—"


def _duration(minutes: int | None) -> str:
    if minutes is None:
        return "—"
    if abs(minutes) < 120:
        return f"{minutes} min"
    if abs(minutes) < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} days"


def _number(value: Any, digits: int = 3) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "—"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _page(
    name: str, *, title: str, tz: str, json_href: str, current: str | None = None, **values: Any
) -> HTMLResponse:
    html = templates.get_template(f"{name}.html").render(
        title=title,
        current=current or name,
        pages=PAGES,
        tz=tz,
        json_href=json_href,
        local=lambda value, fmt="%Y-%m-%d %H:%M": _local(value, tz, fmt),
        duration=_duration,
        number=_number,
        **values,
    )
    return HTMLResponse(html)


def _href(page: str, **params: Any) -> str:
    """A relative link to ``page`` with the non-empty ``params`` (lists repeat their key)."""
    pairs = [
        (k, v)
        for k, value in params.items()
        for v in (value if isinstance(value, list) else [value])
        if v not in (None, "", [])
    ]
    return f"{page}?{urlencode(pairs)}" if pairs else page


router = APIRouter()


def alert_filters(
    *,
    company: str | None = None,
    event_type: str | None = None,
    state: Annotated[list[str] | None, Query(description="posted, pending, posting, failed")] = None,
    since: Annotated[str | None, Query(description="first day, YYYY-MM-DD")] = None,
    until: Annotated[str | None, Query(description="last day, YYYY-MM-DD")] = None,
    feedback: Annotated[str | None, Query(description="yes: with analysts' votes, no: without")] = None,
) -> AlertFilters:
    """The alert filters of a query string; an HTML form sends empty fields, which mean "any"."""
    return AlertFilters(
        company=company or None,
        event_type=event_type or None,
        states=[s for s in state or [] if s],
        since=parse_day(since, "since"),
        until=parse_day(until, "until"),
        feedback=feedback or None,
    )


AlertArgs = Annotated[AlertFilters, Depends(alert_filters)]


@router.get("/api/alerts")
def api_alerts(ctx: Context, filters: AlertArgs, cursor: Cursor = None, limit: Limit = 50) -> AlertPage:
    """Alerts newest first (the ledger: posted, pending, failed) with analysts' feedback on their article,
    filtered by company, event type, state, creation date (whole days in NEWS_DISPLAY_TZ) and whether
    analysts voted (``feedback=yes|no``)."""
    return alerts_page(ctx, filters, cursor=cursor, limit=limit)


@router.get("/alerts", response_class=HTMLResponse)
def page_alerts(ctx: Context, filters: AlertArgs, cursor: Cursor = None, limit: Limit = 50) -> HTMLResponse:
    page = api_alerts(ctx, filters, cursor, limit)
    params = {
        "company": filters.company,
        "event_type": filters.event_type,
        "state": filters.states,
        "since": filters.since.isoformat() if filters.since else None,
        "until": filters.until.isoformat() if filters.until else None,
        "feedback": filters.feedback,
        "limit": limit if limit != 50 else None,
    }
    return _page(
        "alerts",
        title="Alerts",
        tz=page.timezone,
        json_href=_href("api/alerts", **params, cursor=cursor),
        page=page,
        next_href=_href("alerts", **params, cursor=page.next_cursor) if page.next_cursor else None,
        first_href=_href("alerts", **params) if cursor else None,
    )


@router.get("/api/stories")
def api_stories(
    ctx: Context, relevant: bool = True, cursor: Cursor = None, limit: StoryLimit = 20
) -> StoryPage:
    """Stories newest first with their sources (both languages), first source, time to alert, novelty
    and brief; ``relevant=false`` lists every story, not only those with a relevant article."""
    return stories_page(ctx, relevant_only=relevant, cursor=cursor, limit=limit)


@router.get("/stories", response_class=HTMLResponse)
def page_stories(
    ctx: Context, relevant: bool = True, cursor: Cursor = None, limit: StoryLimit = 20
) -> HTMLResponse:
    page = api_stories(ctx, relevant, cursor, limit)
    params = {"relevant": None if relevant else "false", "limit": limit if limit != 20 else None}
    return _page(
        "stories",
        title="Stories",
        tz=ctx.settings.display_tz,
        json_href=_href("api/stories", **params, cursor=cursor),
        page=page,
        next_href=_href("stories", **params, cursor=page.next_cursor) if page.next_cursor else None,
        first_href=_href("stories", **params) if cursor else None,
    )


@router.get("/api/feeds")
def api_feeds(ctx: Context, status: str | None = None, offset: Offset = 0, limit: Limit = 50) -> FeedPage:
    """Feeds in feed-list order with their health and their last 7 days of fetch attempts."""
    return feeds_page(ctx, status=status or None, offset=offset, limit=limit)


@router.get("/feeds", response_class=HTMLResponse)
def page_feeds(
    ctx: Context, status: str | None = None, offset: Offset = 0, limit: Limit = 50
) -> HTMLResponse:
    page = api_feeds(ctx, status, offset, limit)
    params = {"status": page.status, "limit": limit if limit != 50 else None}
    return _page(
        "feeds",
        title="Feeds",
        tz=ctx.settings.display_tz,
        json_href=_href("api/feeds", **params, offset=offset or None),
        page=page,
        charts={f.feed_id: week_chart(f.days) for f in page.feeds},
        status_href=lambda status: _href("feeds", status=status, limit=params["limit"]),
        next_href=_href("feeds", **params, offset=page.next_offset) if page.next_offset else None,
        first_href=_href("feeds", **params) if offset else None,
    )


@router.get("/api/models")
def api_models(ctx: Context, limit: Limit = 50) -> ModelPage:
    """Registered models newest first: held-out metrics, model card, which one is promoted; the newest
    promotion reports with their replay summaries."""
    return models_page(ctx, limit=limit)


@router.get("/models", response_class=HTMLResponse)
def page_models(ctx: Context, limit: Limit = 50) -> HTMLResponse:
    page = api_models(ctx, limit)
    return _page(
        "models",
        title="Models",
        tz=ctx.settings.display_tz,
        json_href=_href("api/models", limit=limit if limit != 50 else None),
        page=page,
        report_href=lambda report_id: _href("promotion", id=report_id),
    )


def _report(ctx: ConsoleContext, report_id: str) -> PromotionReportOut:
    report = promotion_report(ctx, report_id)
    if report is None:
        raise HTTPException(404, f"no promotion report {report_id[:80]!r}")
    return report


ReportId = Annotated[str, Query(alias="id", max_length=200, description="the report's id")]


@router.get("/api/promotion")
def api_promotion_report(ctx: Context, report_id: ReportId) -> PromotionReportOut:
    """One promotion report in full: verdict, outcome, the evaluation's JSON (the replay's included)."""
    return _report(ctx, report_id)


@router.get("/promotion", response_class=HTMLResponse)
def page_promotion_report(ctx: Context, report_id: ReportId) -> HTMLResponse:
    report = _report(ctx, report_id)
    return _page(
        "report",
        title=f"Promotion report: {report.promotion.candidate_version}",
        tz=ctx.settings.display_tz,
        json_href=_href("api/promotion", id=report_id),
        current="models",
        report=report,
        chart_href=_href("promotion.png", id=report_id) if report.promotion.has_chart else None,
    )


@router.get("/promotion.png", include_in_schema=False)
def promotion_chart(ctx: Context, report_id: ReportId) -> Response:
    """The replay's chart of a promotion report (PNG, rendered when the report was made)."""
    record = ctx.store.promotion_report(report_id)
    if record is None or record.chart is None:
        raise HTTPException(404, f"no chart for promotion report {report_id[:80]!r}")
    return Response(record.chart, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})


@router.get("/", include_in_schema=False)
def index() -> RedirectResponse:
    return RedirectResponse("alerts", status_code=307)


def _static(name: str, media_type: str) -> Response:
    body = (HERE / "static" / name).read_text(encoding="utf-8")
    return Response(body, media_type=media_type, headers={"Cache-Control": "private, max-age=300"})


@router.get("/console.css", include_in_schema=False)
def stylesheet() -> Response:
    return _static("console.css", "text/css")


@router.get("/console.js", include_in_schema=False)
def script() -> Response:
    return _static("console.js", "text/javascript")


def _error(request: Request, status: int, message: str) -> Response:
    if is_api_request(request):
        return JSONResponse({"detail": message}, status_code=status)
    html = templates.get_template("error.html").render(
        title=f"{status}: cannot show this", current=None, pages=PAGES, message=message
    )
    return HTMLResponse(html, status_code=status)


async def _invalid_request(request: Request, exc: Exception) -> Response:
    return _error(request, 400, str(exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return _error(request, exc.status_code, str(exc.detail))


async def _store_error(request: Request, exc: Exception) -> Response:
    log.error("console: the store could not be read: %s", exc, exc_info=exc)
    message = (
        str(exc)
        if isinstance(exc, NewsMonitorError)
        else f"the store could not be read ({type(exc).__name__})"
    )
    return _error(request, 503, message)


async def _security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def create_console_app() -> FastAPI:
    """The console as a FastAPI app, to mount under ``URL_PREFIX`` in Airflow's API server."""
    app = FastAPI(
        title="Chip news console",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # the JSON API is documented in docs/console.md, not served to anonymous callers
        dependencies=[Depends(require_user)],
    )
    app.include_router(router)
    app.add_exception_handler(NotLoggedInError, not_logged_in)
    app.add_exception_handler(InvalidRequestError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(NewsMonitorError, _store_error)
    app.add_exception_handler(sa.exc.SQLAlchemyError, _store_error)
    app.middleware("http")(_security_headers)
    return app
