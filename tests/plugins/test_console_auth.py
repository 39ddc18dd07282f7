"""The console inside Airflow's own API app (in-process): the plugin mounts it and every route of it, found
by walking the mounted app's route table, refuses a caller without a valid Airflow login (401 from the
JSON API, a redirect to Airflow's login from a page) and serves one with a login from the auth manager.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import jwt
import pytest
from fastapi.dependencies.utils import get_flat_dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount
from support.articles import add_alert, add_classified
from support.environment import settings_env

from chip_news_airflow.console import URL_PREFIX
from pipeline.settings import Settings
from pipeline.store import get_store

pytestmark = pytest.mark.airflow

SECRET_TITLE = "Alibaba tests a chip only a logged-in user may read about"
REPORT_ID = "clf-new~clf-old"
# A value for each required query parameter of a route (a route needing one it lacks fails the walk).
QUERY_VALUES = {"id": REPORT_ID}


@pytest.fixture(scope="module")
def airflow_app(airflow_db: Path) -> Any:
    """Airflow's API server app as ``airflow api-server`` builds it, with the project's plugins folder."""
    from airflow.api_fastapi.app import create_app

    return create_app()


@pytest.fixture
def client(airflow_app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """A client of the whole API app; the console reads a store holding one alert."""
    for key, value in settings_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    get_store.cache_clear()
    store = get_store(Settings.from_env().db_url)
    at = datetime(2025, 9, 15, 8, 0, tzinfo=UTC)
    add_classified(store, "a1", at=at, story="s1", title=SECRET_TITLE)
    add_alert(store, "story-1", at=at, story_id="s1", article_id="a1", state="posted")
    store.save_promotion_report(
        REPORT_ID, candidate_version="clf-new", current_version="clf-old", decision="approve",
        reason=SECRET_TITLE, report={}, markdown=SECRET_TITLE, chart=b"\x89PNG\r\n\x1a\n",
    )  # fmt: skip
    with TestClient(airflow_app) as client:
        yield client
    get_store.cache_clear()


def _token(**kw: Any) -> str:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="viewer", role="viewer"), **kw)


def _console_routes(airflow_app: Any) -> list[tuple[str, str]]:
    """(method, URL) of every route of the console as mounted in the API app."""
    mounts = [r for r in airflow_app.routes if isinstance(r, Mount) and r.path == URL_PREFIX]
    assert len(mounts) == 1, "the plugin did not mount the console"
    out = []
    for route in mounts[0].app.routes:
        # anything but an APIRoute (a Mount, static files) would not run the app's login dependency
        assert isinstance(route, APIRoute), f"{route!r} is not an APIRoute: it would bypass require_user"
        path = re.sub(r"\{[^}]+\}", "x", route.path)  # any path parameter gets some value
        required = [
            p.alias for p in get_flat_dependant(route.dependant).query_params if p.field_info.is_required()
        ]
        missing = [name for name in required if name not in QUERY_VALUES]
        assert not missing, f"{route.path}: no test value for the query parameter(s) {missing}"
        query = "?" + urlencode({name: QUERY_VALUES[name] for name in required}) if required else ""
        out += [(method, URL_PREFIX + path + query) for method in sorted(route.methods)]
    return out


def test_the_plugin_mounts_the_console_and_its_navigation_entry(airflow_app: Any, client: TestClient) -> None:
    routes = _console_routes(airflow_app)
    urls = {url for _, url in routes}
    for page in ("alerts", "stories", "feeds", "models"):
        assert f"{URL_PREFIX}/{page}" in urls and f"{URL_PREFIX}/api/{page}" in urls
    assert {method for method, _ in routes} == {"GET"}, "the console is read-only"

    plugins = client.get("/api/v2/plugins", headers={"Authorization": f"Bearer {_token()}"}).json()
    (plugin,) = [p for p in plugins["plugins"] if p["name"] == "chip_news"]
    (view,) = plugin["external_views"]
    assert view["name"] == "Chip news" and view["url_route"] == "chip-news"
    assert view["href"] == URL_PREFIX.lstrip("/") + "/", "the href must be relative (no leading slash)"
    assert [a["url_prefix"] for a in plugin["fastapi_apps"]] == [URL_PREFIX]


def _other_key_token() -> str:
    now = int(datetime.now(UTC).timestamp())
    claims = {
        "sub": "admin",
        "role": "admin",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "aud": "apache-airflow",
    }
    return jwt.encode(claims, "not-the-airflow-secret-" * 3, algorithm="HS512")


BAD_CREDENTIALS = [
    "anonymous",
    "garbage bearer token",
    "garbage cookie",
    "expired token",
    "token signed with another key",
    "basic auth",
]


def _bad_credentials(name: str) -> dict[str, Any]:
    """Request arguments carrying the named kind of bad (or no) credentials."""
    return {
        "anonymous": {},
        "garbage bearer token": {"headers": {"Authorization": "Bearer not-a-jwt"}},
        "garbage cookie": {"headers": {"Cookie": "_token=not-a-jwt"}},
        "expired token": {"headers": {"Authorization": f"Bearer {_token(expiration_time_in_seconds=-3600)}"}},
        "token signed with another key": {"headers": {"Cookie": f"_token={_other_key_token()}"}},
        "basic auth": {"headers": {"Authorization": "Basic YWRtaW46YWRtaW4="}},
    }[name]


@pytest.mark.parametrize("credentials", BAD_CREDENTIALS)
def test_every_console_route_refuses_a_caller_without_a_valid_login(
    airflow_app: Any, client: TestClient, credentials: str
) -> None:
    routes = _console_routes(airflow_app)
    assert len(routes) >= 10
    for method, url in routes:
        response = client.request(method, url, follow_redirects=False, **_bad_credentials(credentials))
        assert SECRET_TITLE not in response.text, f"{method} {url} leaked data to: {credentials}"
        if url.startswith(f"{URL_PREFIX}/api/"):
            assert response.status_code == 401, f"{method} {url} ({credentials}): {response.status_code}"
            assert response.json()["detail"].startswith("log in to Airflow first")
            continue
        assert response.status_code == 303, f"{method} {url} ({credentials}): {response.status_code}"
        location = response.headers["location"]
        assert not location.startswith(("/", "http")), f"{location}: the login link must be relative"
        login = urljoin(f"http://testserver{url}", location)
        assert urlsplit(login).path == "/api/v2/auth/login"
        assert parse_qs(urlsplit(login).query)["next"] == [url]
        # Airflow accepts the page as a safe place to come back to and sends the browser to its login page
        airflow = client.get(login, follow_redirects=False)
        assert airflow.status_code == 307 and urlsplit(airflow.headers["location"]).path == "/auth/login"


def test_a_logged_in_user_reads_every_route(airflow_app: Any, client: TestClient) -> None:
    token = _token()
    for method, url in _console_routes(airflow_app):
        by_cookie = client.request(method, url, headers={"Cookie": f"_token={token}"}, follow_redirects=False)
        by_header = client.request(
            method, url, headers={"Authorization": f"Bearer {token}"}, follow_redirects=False
        )
        for response in (by_cookie, by_header):
            expected = 307 if url == f"{URL_PREFIX}/" else 200  # the index sends on to the alerts page
            assert response.status_code == expected, (
                f"{method} {url}: {response.status_code} {response.text[:200]}"
            )
    alerts = client.get(f"{URL_PREFIX}/api/alerts", headers={"Authorization": f"Bearer {token}"}).json()
    assert [a["title"] for a in alerts["alerts"]] == [SECRET_TITLE]


def test_writes_are_not_routes(client: TestClient) -> None:
    token = _token()
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = client.request(method, f"{URL_PREFIX}/api/alerts", headers={"Cookie": f"_token={token}"})
        assert response.status_code == 405 and SECRET_TITLE not in response.text


PREFIXED_PROBE = """
import json
from urllib.parse import urljoin
from fastapi.testclient import TestClient
from airflow.api_fastapi.app import create_app, get_auth_manager
from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

client = TestClient(create_app())
token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="viewer", role="viewer"))
page = "/airflow/chip-news/alerts"
anonymous = client.get(page, follow_redirects=False)
login = urljoin("http://testserver" + page, anonymous.headers["location"])
print(json.dumps({
    "anonymous": anonymous.status_code,
    "login": login,
    "login_page": client.get(login, follow_redirects=False).headers.get("location"),
    "page": client.get(page, headers={"Authorization": "Bearer " + token}).status_code,
    "api": client.get("/airflow/chip-news/api/models", headers={"Authorization": "Bearer " + token}).status_code,
}))
"""


def test_the_console_works_under_a_url_prefix(airflow_db: Path, tmp_path: Path) -> None:
    """Airflow under /airflow ([api] base_url, read when Airflow is imported: a process of its own): the
    console's pages and their link to the login follow the prefix."""
    env = {**os.environ, **settings_env(tmp_path), "AIRFLOW__API__BASE_URL": "http://testserver/airflow"}
    result = subprocess.run(
        [sys.executable, "-c", PREFIXED_PROBE],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["anonymous"] == 303
    assert seen["login"] == "http://testserver/airflow/api/v2/auth/login?next=%2Fairflow%2Fchip-news%2Falerts"
    assert seen["login_page"] == "/airflow/auth/login?next=%2Fairflow%2Fchip-news%2Falerts"
    assert seen["page"] == 200 and seen["api"] == 200
