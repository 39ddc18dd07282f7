"""The console end to end in a real browser: Airflow's API server with the project's plugins, over a store
filled by one news_monitor run on the sample feeds (plus a feed with a hostile title), driven by Selenium
through Debian's chromium and chromium-driver.

The test logs in through Airflow's login page, opens "Chip news" from the UI's navigation, walks the
console's pages from its own navigation, checks what each must show against the samples' expected data,
checks that a hostile title stays inert text, and saves a screenshot of each page under
var/console-screenshots/. Without Chromium it skips and says why (under CI=true it fails).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.environment import settings_env, unavailable
from support.fake_slack import FakeSlack
from support.local_server import LocalServer
from support.models import install_model

from bench.cluster import AirflowCluster, wait_for
from pipeline.models import FeedbackVote
from pipeline.sample_server import serving, write_sample_feed_list
from pipeline.settings import PROJECT_ROOT
from pipeline.store import get_store

pytestmark = [pytest.mark.airflow, pytest.mark.live]

EXPECTED = json.loads((PROJECT_ROOT / "samples" / "expected.json").read_text(encoding="utf-8"))
DEMO = EXPECTED["windows"]["demo"]
SCREENSHOTS = PROJECT_ROOT / "var" / "console-screenshots"
CHANNEL = "#chip-alerts"
# A title that reaches the store with markup in its text (the feed escaped it twice): it must show as text.
HOSTILE_TITLE = (
    '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"> '
    "Xiaomi develops its own XRING O2 chip for phones"
)
HOSTILE_FEED = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Hostile Wire</title><link>https://hostile.example.com/</link>
<item><title>{HOSTILE_TITLE.replace("&", "&amp;amp;").replace("<", "&amp;lt;").replace(">", "&amp;gt;").replace('"', "&amp;quot;")}</title>
<link>https://hostile.example.com/2025/09/15/xiaomi-xring-o2</link><guid>hostile-1</guid>
<description>Xiaomi has developed its second self-designed phone chip, the XRING O2, and will put it in its
next flagship phones, the company said.</description><pubDate>Mon, 15 Sep 2025 05:00:00 GMT</pubDate></item>
</channel></rss>""".encode()
CHROME_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1440,1000",
]


@dataclass(frozen=True)
class Console:
    base_url: str
    password: str
    model_version: str
    voted_alert: str  # a story alert two analysts disagree on


def _feed_list(path: Path, samples_url: str, hostile_url: str) -> Path:
    write_sample_feed_list(samples_url, path)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(
            f"\n  - id: hostile-wire\n    name: Hostile Wire\n    url: {hostile_url}\n"
            "    language: en\n    fetch_pages: false\n"
        )
    return path


@pytest.fixture(scope="module")
def console(
    tmp_path_factory: pytest.TempPathFactory, trained_model_file: Path, airflow_db: Path
) -> Iterator[Console]:
    """One news_monitor run over the sample day into a fresh store, then Airflow's API server over it."""
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        unavailable("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    tmp = tmp_path_factory.mktemp("console")
    with (
        serving() as samples_url,
        LocalServer() as hostile,
        FakeSlack() as slack,
        pytest.MonkeyPatch.context() as mp,
    ):
        hostile.route("/hostile.xml", body=HOSTILE_FEED, headers={"Content-Type": "application/rss+xml"})
        env = settings_env(
            tmp,
            NEWS_FEEDS_FILE=str(_feed_list(tmp / "feeds.yaml", samples_url, hostile.url("/hostile.xml"))),
            NEWS_ALLOW_HOSTS=",".join([samples_url.removeprefix("http://"), *hostile.allow_hosts]),
            NEWS_SLACK_CHANNEL=CHANNEL,
            NEWS_DIGEST_THRESHOLD="50",  # each story its own parent message
        )
        for key, value in env.items():
            mp.setenv(key, value)
        conn = {"conn_type": "slack", "password": "xoxb-test", "extra": {"base_url": slack.base_url}}
        mp.setenv("AIRFLOW_CONN_SLACK_API_DEFAULT", json.dumps(conn))
        slack.add_channel(CHANNEL)
        get_store.cache_clear()
        version = install_model(env["NEWS_DB_URL"], trained_model_file)
        _run_news_monitor()
        get_store.cache_clear()
        voted = _vote_on_an_alert(env["NEWS_DB_URL"])
        get_store.cache_clear()

        cluster = AirflowCluster(
            home=airflow_db,
            metadata_url=os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"],
            env_extra={**env, "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin"},
        )
        cluster.start("api-server", "api-server", "--port", str(cluster.port), "--host", "127.0.0.1")
        try:
            wait_for(lambda: _healthy(cluster), timeout=180, interval=2, what="the API server")
            passwords = json.loads((airflow_db / "simple_auth_manager_passwords.json.generated").read_text())
            yield Console(cluster.base_url, passwords["admin"], version, voted)
        except Exception as e:
            raise RuntimeError(f"{e}\n{cluster.logs()}") from e
        finally:
            leftovers = cluster.stop()
            assert leftovers == [], f"processes left behind: {leftovers}"


def _vote_on_an_alert(db_url: str) -> str:
    """Two analysts' opposite votes on the first story alert, as collect_feedback would record them."""
    store = get_store(db_url)
    alert = store.alerts(kinds=["story"])[0]
    votes = [
        FeedbackVote(f"v-{user}", str(alert.article_id), f"slack:{user}", label, None, alert.created_at,
                     alert_id=alert.alert_id)
        for user, label in (("UALICE", "relevant"), ("UBOB", "not_relevant"))
    ]  # fmt: skip
    store.save_votes(votes, now=alert.created_at)
    return alert.alert_id


def _healthy(cluster: AirflowCluster) -> bool:
    proc = cluster.processes["api-server"]
    if proc.poll() is not None:
        raise RuntimeError(f"the API server exited with {proc.returncode}")
    return httpx.get(f"{cluster.base_url}/api/v2/monitor/health", timeout=5).status_code == 200


def _run_news_monitor() -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "news_monitor.py"))
    assert bag.import_errors == {}
    run = bag.dags["news_monitor"].test(run_conf={"since": DEMO["start"], "until": DEMO["end"]})
    assert "success" in str(run.state), f"news_monitor: {run.state}"


@pytest.fixture(scope="module")
def browser(console: Console) -> Iterator[Any]:
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="chipnews-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    service = webdriver.ChromeService(
        executable_path=shutil.which("chromedriver"), log_output=str(SCREENSHOTS / "chromedriver.log")
    )
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _wait(driver: Any, condition: Any, what: str, timeout: float = 30) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition, message=f"waiting for {what}")


def _present(css: str) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    return ec.presence_of_element_located((By.CSS_SELECTOR, css))


def _console_page(driver: Any, name: str) -> None:
    """Follow the console's own navigation to ``name`` (inside the UI's frame) and wait for it."""
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, "nav.pages").find_element(By.LINK_TEXT, name).click()
    _wait(driver, _present(f'nav.pages a[aria-current="page"][href="{name.lower()}"]'), f"the {name} page")


def _relevant_titles_by_url() -> dict[str, list[str]]:
    """The demo window's relevant sample items: their titles per article URL (one URL, one article)."""
    out: dict[str, list[str]] = {}
    for item in EXPECTED["items"]:
        if item["window"] == "demo" and item["relevant"]:
            out.setdefault(item["url"].split("?")[0], []).append(item["title"])
    return out


def _feed_item_counts() -> dict[str, int]:
    """Items per sample feed, counted in the feed files themselves."""
    files = {i["feed_id"]: i["file"] for i in EXPECTED["items"]}
    return {
        feed_id: len(
            re.findall(rb"<(?:item|entry)\b", (PROJECT_ROOT / "samples" / "feeds" / name).read_bytes())
        )
        for feed_id, name in files.items()
    }


def test_the_console_refuses_callers_who_are_not_logged_in(console: Console) -> None:
    for page in ("", "alerts", "stories", "feeds", "models"):
        r = httpx.get(f"{console.base_url}/chip-news/{page}", follow_redirects=False, timeout=10)
        assert r.status_code in (303, 307), f"/{page}: {r.status_code}"
        if page:
            assert r.status_code == 303 and "api/v2/auth/login?next=" in r.headers["location"]
        api = httpx.get(f"{console.base_url}/chip-news/api/{page or 'alerts'}", timeout=10)
        assert api.status_code == 401 and "alerts" not in api.json()


def test_an_operator_reads_the_console_in_the_airflow_ui(console: Console, browser: Any) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    driver = browser
    # 1. Airflow's login page (the UI sends an anonymous visitor there)
    driver.get(console.base_url + "/")
    user = _wait(driver, _present('input[name="username"]'), "Airflow's login page")
    user.send_keys("admin")
    driver.find_element(By.CSS_SELECTOR, 'input[name="password"]').send_keys(console.password)
    driver.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click()

    # 2. "Chip news" in the UI's navigation opens the console in the UI's frame
    entry = _wait(driver, _present('a[href$="plugin/chip-news"]'), 'the "Chip news" navigation entry', 60)
    assert "Chip news" in (entry.get_attribute("title") or "") + entry.text + (
        entry.get_attribute("aria-label") or ""
    )
    entry.click()
    frame = _wait(driver, _present('iframe[title="Chip news"]'), "the console's frame")
    driver.switch_to.frame(frame)
    _wait(driver, _present("table.alerts"), "the alerts table")

    # 3. Alerts: every relevant sample story of the window, none of the rest, the hostile one inert
    table = driver.find_element(By.CSS_SELECTOR, "table.alerts").text
    for url, titles in _relevant_titles_by_url().items():
        assert any(t in table for t in titles), f"no alert for {url}: {titles}"
    for item in EXPECTED["items"]:
        if item["window"] == "demo" and not item["relevant"]:
            assert item["title"] not in table, f"{item['title']!r} is not relevant"
    assert HOSTILE_TITLE in table, "the hostile title must show as its own text"
    assert driver.execute_script("return typeof window.__pwned") == "undefined"
    assert driver.find_elements(By.CSS_SELECTOR, "main img") == []
    rows = driver.find_elements(By.CSS_SELECTOR, "table.alerts tbody tr")
    assert rows and all(console.model_version in r.text for r in rows)
    assert {r.find_element(By.CSS_SELECTOR, ".badge").text for r in rows} == {"posted"}
    parents = driver.find_elements(By.CSS_SELECTOR, "table.alerts tr.kind-story")
    assert parents, "no story's first alert"
    for row in parents:  # a parent message has its Slack permalink (thread replies have none)
        link = row.find_element(By.LINK_TEXT, "open").get_attribute("href")
        assert link.startswith("https://fake.slack.test/archives/"), link
    voted = driver.find_element(By.CSS_SELECTOR, f'tr[data-alert-id="{console.voted_alert}"]')
    assert "✅ 1 · ❌ 1 (disputed)" in voted.text
    driver.save_screenshot(str(SCREENSHOTS / "alerts.png"))

    # a link out (here the Slack permalink) opens a new tab, though the UI's frame forbids pop-ups
    ui, before = driver.current_window_handle, set(driver.window_handles)
    parents[0].find_element(By.LINK_TEXT, "open").click()
    _wait(driver, lambda d: len(set(d.window_handles) - before) == 1, "a new tab for the Slack permalink")
    driver.switch_to.window((set(driver.window_handles) - before).pop())
    driver.close()
    driver.switch_to.window(ui)
    driver.switch_to.frame(driver.find_element(By.CSS_SELECTOR, 'iframe[title="Chip news"]'))

    # 4. Stories: a story reported in Chinese and English lists both sources
    _console_page(driver, "Stories")
    stories = driver.find_elements(By.CSS_SELECTOR, "article.story")
    assert stories
    groups: dict[str, set[str]] = {}
    for item in EXPECTED["items"]:
        if item["window"] == "demo" and item["relevant"]:
            groups.setdefault(item["story_key"], set()).add(item["title"])
    bilingual = groups["alibaba-inference-chip"]  # two Chinese and three English reports
    assert len(bilingual) == 5
    (story,) = [s for s in stories if all(t in s.text for t in bilingual)]
    assert "zh 2" in story.text and "en 3" in story.text and "alerted" in story.text
    assert "Core viewpoint:" in story.text, "the story's brief"
    assert story.find_element(By.CSS_SELECTOR, ".novelty .badge").text == "new"
    assert any(HOSTILE_TITLE in s.text for s in stories)
    driver.save_screenshot(str(SCREENSHOTS / "stories.png"))

    # 5. Feeds: every sample feed fetched once today, its items counted, a bar for today in its chart
    _console_page(driver, "Feeds")
    for feed_id, items in _feed_item_counts().items():
        row = driver.find_element(By.CSS_SELECTOR, f'tr[data-feed-id="{feed_id}"]')
        assert row.find_element(By.CSS_SELECTOR, ".badge").text == "ok"
        assert f" {items} " in f" {row.text} ", f"{feed_id}: {items} items expected in {row.text!r}"
        today = row.find_elements(By.CSS_SELECTOR, "svg.week rect")[-1]
        assert "bar ok" in today.get_attribute("class")
        assert f"1 runs, 0 failed, {items} items" in today.find_element(By.TAG_NAME, "title").get_attribute(
            "textContent"
        )
    assert "gb18030" in driver.find_element(By.CSS_SELECTOR, 'tr[data-feed-id="sample-cn-finance"]').text
    driver.save_screenshot(str(SCREENSHOTS / "feeds.png"))

    # 6. Models: the promoted model
    _console_page(driver, "Models")
    row = driver.find_element(By.CSS_SELECTOR, f'tr[data-version="{console.model_version}"]')
    assert "promoted" in row.text
    driver.save_screenshot(str(SCREENSHOTS / "models.png"))

    driver.switch_to.default_content()
    assert driver.execute_script("return typeof window.__pwned") == "undefined"
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018 (no dialog was ever opened by feed text)
