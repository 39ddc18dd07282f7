"""Feed health rows on SQLite and PostgreSQL: failures count up, a success resets them."""

from __future__ import annotations

from support.articles import T0

from pipeline.store import Store


def test_feed_health_counts_failures_and_resets(any_store: Store) -> None:
    any_store.record_feed_result("f", "https://f.example/rss", ok=False, at=T0, status=500, error="HTTP 500")
    h = any_store.record_feed_result(
        "f", "https://f.example/rss", ok=False, at=T0, status=None, error="timeout"
    )
    assert h.consecutive_failures == 2 and h.last_error == "timeout"
    h = any_store.record_feed_result(
        "f",
        "https://f.example/rss",
        ok=True,
        at=T0,
        status=200,
        items=5,
        new_items=5,
        etag='"e1"',
        encoding="gb18030",
    )
    assert h.consecutive_failures == 0 and h.etag == '"e1"' and h.items_seen == 5
    health = any_store.feed_health()["f"]
    assert health.last_success_at == T0 and health.encoding == "gb18030"
