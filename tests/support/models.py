"""Putting a trained model file into a store's registry and promoting it, as `python -m pipeline train` would."""

from __future__ import annotations

from pathlib import Path

from pipeline.model.registry import promote, register_file
from pipeline.store import get_store


def install_model(db_url: str, model_file: Path) -> str:
    """Register ``model_file`` in the store at ``db_url`` (migrated if needed), promote it; its version."""
    store = get_store(db_url)
    model = register_file(store, model_file)
    promote(store, model.version)
    return model.version


def sample_training_items() -> list[dict[str, object]]:
    """The bundled sample feeds' items as labelled training lines, labels from ``samples/expected.json``.

    The feeds are parsed by the pipeline's own parser, so the model sees the text the pipeline stores.
    """
    import json

    from pipeline.ingest.feedparse import parse_feed
    from pipeline.settings import PROJECT_ROOT

    samples = PROJECT_ROOT / "samples"
    expected = json.loads((samples / "expected.json").read_text(encoding="utf-8"))["items"]
    parsed: dict[str, dict[str, tuple[str, str]]] = {}
    lines: list[dict[str, object]] = []
    for n, item in enumerate(expected):
        if item["file"] not in parsed:
            body = (samples / "feeds" / item["file"]).read_bytes()
            feed = parse_feed(
                body, {}, url=f"https://samples.example/{item['file']}", language=item["language"]
            )
            parsed[item["file"]] = {e.guid or e.url or "": (e.title, e.summary) for e in feed.entries}
        title, summary = parsed[item["file"]].get(item["guid"], (item["title"], ""))
        relevant = bool(item["relevant"])
        lines.append(
            {
                "id": f"sample-{n}",
                "lang": item["language"],
                "title": title,
                "summary": summary,
                "label": int(relevant),
                "event_type": item["event_type"] if relevant else None,
                "companies": [item["company"]] if relevant and item.get("company") else [],
                "chips": [],
                "counterparties": [],
            }
        )
    return lines
