"""Every console route requires a logged-in Airflow user, checked the way Airflow checks its own routes.

Airflow does not authenticate the FastAPI apps that plugins mount, so the console depends on
``require_user``: it calls Airflow's own ``get_user`` (``airflow.api_fastapi.core_api.security``), which
validates the JWT from the ``Authorization: Bearer`` header or the UI's ``_token`` cookie with the
configured auth manager (simple, FAB, ...), honouring the token refresh Airflow's middleware did.
A caller without a valid login gets 401 from the JSON API and a redirect to Airflow's login from a page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

# Airflow's public login route, relative to its root; it redirects to the auth manager's login page.
AIRFLOW_LOGIN = "api/v2/auth/login"
API_PREFIX = "/api/"


class NotLoggedInError(Exception):
    """The request carries no valid Airflow login."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


async def require_user(request: Request) -> Any:
    """The Airflow user of the request (``BaseUser``); ``NotLoggedInError`` without a valid login."""
    # Imported here: the plugin is loaded by every Airflow process (tasks too), only the API server
    # needs the security module and the auth manager it initialises.
    from airflow.api_fastapi.core_api.security import bearer_scheme, get_user

    credentials = await bearer_scheme(request)
    try:
        return await get_user(request, _oauth_token=None, bearer_credentials=credentials)
    except HTTPException as e:  # 401 missing or expired token, 403 invalid token
        raise NotLoggedInError(str(e.detail)) from e


def route_path(request: Request) -> str:
    """The request's path inside the console app (``/alerts``), without the prefix it is mounted under."""
    path: str = request.scope["path"]
    root: str = request.scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root + "/") else path


def is_api_request(request: Request) -> bool:
    return route_path(request).startswith(API_PREFIX)


def login_location(request: Request) -> str:
    """A link to Airflow's login that comes back to this page, relative to it (so it works under any
    URL prefix or proxy): one ``..`` per directory level of the page inside the app, plus one for the
    app's own mount point."""
    up = "../" * route_path(request).count("/")
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{up}{AIRFLOW_LOGIN}?{urlencode({'next': target})}"


def not_logged_in(request: Request, exc: Exception) -> Response:
    """401 for the JSON API; a redirect to Airflow's login for the pages. Never any data."""
    detail = exc.detail if isinstance(exc, NotLoggedInError) else "Not authenticated"
    if is_api_request(request):
        return JSONResponse(
            {"detail": f"log in to Airflow first ({detail})"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    return RedirectResponse(login_location(request), status_code=303)
