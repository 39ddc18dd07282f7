"""Run feedparser's own test corpus through ``parse_feed`` and compare with feedparser.

    pip download feedparser==6.0.14 --no-binary :all: --no-deps -d /tmp/peer
    tar xzf /tmp/peer/feedparser-6.0.14.tar.gz -C /tmp/peer
    .venv/bin/python scripts/check_peer_corpus.py /tmp/peer/feedparser-6.0.14/tests [--verbose]

The corpus stays outside the repository (it is feedparser's). Each ``*.xml`` file is given the HTTP headers
feedparser's test server would send (the ``Header:`` lines of files whose path holds "http", with the
server's default Content-Type), then parsed by feedparser and by ``parse_feed``. Printed:

* how many feeds feedparser parses cleanly (bozo=0), and which of them ``parse_feed`` refuses: each one is
  a defect, and the exit status is 1 when there is one;
* the corpus's own expectations that ``parse_feed`` misses: the ``Expect:`` line of a test file states the
  document's encoding (``encoding == 'EUC-JP'``), its feed title or its first description; a miss on an
  encoding means the text was decoded differently from what that encoding gives (mis-decoding);
* how many feeds the fast path (lxml) read, and any whose fields differ from ``parse_feed``'s feedparser
  path (``fast_path=False``): each one is a defect too;
* the feeds whose titles or summaries differ from feedparser's (both through the pipeline's text
  cleaning). A difference is a lead, not a verdict: feedparser reads undeclared bytes as windows-1252.

``--language zh`` runs the feeds as Chinese-language feeds (the setting that lets GB18030 be guessed).
"""

from __future__ import annotations

import argparse
import ast
import codecs
import io
import logging
import mimetypes
import re
import sys
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.errors import FeedParseError  # noqa: E402
from pipeline.ingest.feedparse import parse_feed  # noqa: E402
from pipeline.models import ParsedFeed  # noqa: E402
from pipeline.text import clean_title, html_to_text  # noqa: E402

_HEADER_RE = re.compile(rb"^Header:\s+([^:]+):(.+)$", re.MULTILINE)
_EXPECT_RE = re.compile(rb"Expect:\s*(.*?)\n")
_EXPECT_ENCODING_RE = re.compile(r"\bencoding == '([^']+)'")
_EXPECT_TITLE_RE = re.compile(r"\bfeed\['title'\] == ('(?:[^'\\]|\\.)*')\s*$")
_EXPECT_DESCRIPTION_RE = re.compile(r"\bentries\[0\]\['description'\] == ('(?:[^'\\]|\\.)*')\s*$")
_EXPECT_ORD_RE = re.compile(r"\bord\(entries\[0\]\['description'\]\) == (\d+)")


@dataclass(frozen=True)
class Outcome:
    """One corpus file: what feedparser and ``parse_feed`` made of it."""

    path: str
    clean: bool  # feedparser: bozo=0
    refused: str | None = None  # parse_feed's error, if it refused the document
    differences: tuple[tuple[str, str, str], ...] = ()  # (field, ours, feedparser's)
    missed: tuple[str, ...] = ()  # expectations of the corpus's Expect: line that parse_feed misses
    encoding: str | None = None
    fast: bool = False  # read by the fast path (lxml)
    paths_differ: bool = False  # the fast path's fields differ from parse_feed's feedparser path


def headers_for(path: Path, data: bytes) -> dict[str, str]:
    """The headers feedparser's test server sends for the file (none when it is parsed from disk)."""
    if "http" not in str(path):
        return {}
    headers = {k.decode().strip(): v.decode().strip() for k, v in _HEADER_RE.findall(data)}
    if not any(k.lower() == "content-type" for k in headers):
        headers["Content-type"] = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return headers


def _summary_of(entry: Any) -> str:
    summary = entry.get("summary") or ""
    content = max((c.get("value") or "" for c in entry.get("content") or ()), key=len, default="")
    return html_to_text(content if len(content) > len(summary) else summary)


def their_fields(parsed: Any) -> list[tuple[str, str]]:
    """(field, text) from a feedparser result, the entries the pipeline keeps (a title or a link)."""
    fields = [("feed title", clean_title((parsed.get("feed") or {}).get("title") or ""))]
    index = 0
    for entry in parsed.get("entries") or []:
        title = clean_title(entry.get("title") or "")
        if not title and not entry.get("link") and not entry.get("links"):
            continue
        fields += [(f"entry {index} title", title), (f"entry {index} summary", _summary_of(entry))]
        index += 1
    return fields


def our_fields(feed: ParsedFeed) -> list[tuple[str, str]]:
    fields = [("feed title", feed.title or "")]
    for index, entry in enumerate(feed.entries):
        fields += [(f"entry {index} title", entry.title), (f"entry {index} summary", entry.summary)]
    return fields


def _same_text(body: bytes, expected_label: str, ours: str) -> bool:
    """Whether decoding ``body`` as the expected encoding gives the text our codec gave."""
    try:
        expected = body.decode(codecs.lookup(expected_label).name, "replace").lstrip("\ufeff")
    except LookupError:
        return True  # an encoding this Python lacks: nothing to compare against
    return expected == body.decode(ours, "replace").lstrip("\ufeff")


def missed_expectations(data: bytes, feed: ParsedFeed) -> tuple[str, ...]:
    """The Expect: line's checks on encoding, feed title and first description that ``feed`` fails."""
    match = _EXPECT_RE.search(data)
    if not match:
        return ()
    expect = match.group(1).decode("utf-8", "replace").strip()
    missed = []
    # Entries with neither title nor link are dropped by design: their descriptions cannot be compared.
    first = feed.entries[0].summary if feed.entries else None
    if (m := _EXPECT_ENCODING_RE.search(expect)) and not _same_text(data, m.group(1), feed.encoding):
        missed.append(f"encoding {m.group(1)}, read as {feed.encoding}")
    if (m := _EXPECT_TITLE_RE.search(expect)) and (want := clean_title(ast.literal_eval(m.group(1)))) != (
        feed.title or ""
    ):
        missed.append(f"feed title {want!r}, got {feed.title!r}")
    if first is None:
        return tuple(missed)
    if (m := _EXPECT_DESCRIPTION_RE.search(expect)) and (
        want := html_to_text(ast.literal_eval(m.group(1)))
    ) != first:
        missed.append(f"description {want!r}, got {first!r}")
    if (m := _EXPECT_ORD_RE.search(expect)) and (want := chr(int(m.group(1)))) != first:
        missed.append(f"description {want!r}, got {first!r}")
    return tuple(missed)


def check(path: Path, root: Path, language: str) -> Outcome:
    import feedparser

    data = path.read_bytes()
    headers = headers_for(path, data)
    relative = str(path.relative_to(root))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = feedparser.parse(io.BytesIO(data), response_headers=headers, sanitize_html=False)
    clean = not theirs.get("bozo")
    url = f"http://127.0.0.1:8097/tests/{relative}"
    try:
        ours = parse_feed(data, headers, url=url, language=language)
    except FeedParseError as e:
        return Outcome(relative, clean, refused=str(e))
    slow = parse_feed(data, headers, url=url, language=language, fast_path=False)
    mine = our_fields(ours)
    differences = tuple(
        (f, a, b) for (f, a), (_, b) in zip(mine, their_fields(theirs), strict=False) if a != b
    )
    return Outcome(
        relative,
        clean,
        None,
        differences,
        missed_expectations(data, ours),
        ours.encoding,
        fast=ours.parser == "lxml",
        paths_differ=(ours.title, ours.entries, ours.warnings) != (slow.title, slow.entries, slow.warnings),
    )


def corpus_files(root: Path) -> list[Path]:
    # tests/http/ holds redirect and status fixtures for feedparser's HTTP client, not feeds.
    return sorted(p for p in root.rglob("*.xml") if p.parent != root / "http")


def _print_differences(title: str, outcomes: list[Outcome], verbose: bool) -> None:
    print(f"  {title}: {len(outcomes)}")
    for o in outcomes if verbose else outcomes[:20]:
        field, ours, theirs = o.differences[0]
        print(f"    {o.path} [{o.encoding}] {field}: ours {ours[:70]!r} / feedparser {theirs[:70]!r}")
    if len(outcomes) > 20 and not verbose:
        print(f"    ... {len(outcomes) - 20} more (--verbose lists them)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tests", type=Path, help="feedparser's tests/ folder (from its sdist or repository)")
    parser.add_argument("--language", default="en", help="the feeds' configured language (default en)")
    parser.add_argument("--verbose", action="store_true", help="list every difference")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    root: Path = args.tests
    files = corpus_files(root)
    if not files:
        print(f"no *.xml files under {root}", file=sys.stderr)
        return 2
    outcomes = [check(path, root, args.language) for path in files]
    clean = [o for o in outcomes if o.clean]
    refused_clean = [o for o in clean if o.refused]
    refused_bozo = [o for o in outcomes if not o.clean and o.refused]
    print(
        f"{len(outcomes)} feeds, {len(clean)} parsed cleanly by feedparser (bozo=0), language {args.language}"
    )
    print(f"  refused by parse_feed although feedparser parses them cleanly: {len(refused_clean)}")
    for o in refused_clean:
        print(f"    {o.path}: {o.refused}")
    print(f"  refused by parse_feed, not well-formed for feedparser either: {len(refused_bozo)}")
    reasons = Counter(re.sub(r"\(.*", "", o.refused or "").strip()[:60] for o in refused_bozo)
    for reason, count in reasons.most_common():
        print(f"    {count:4d}  {reason}")
    accepted = [o for o in outcomes if not o.refused]
    differ = [o for o in accepted if o.paths_differ]
    print(
        f"  fast path: {sum(o.fast for o in accepted)} of {len(accepted)} accepted feeds; "
        f"fields different from the feedparser path: {len(differ)}"
    )
    for o in differ:
        print(f"    {o.path}")
    missed = [o for o in outcomes if o.missed]
    print(f"  expectations of the corpus (Expect: encoding, feed title, description) missed: {len(missed)}")
    for o in missed:
        print(f"    {o.path}: {'; '.join(o.missed)}")
    _print_differences(
        "clean feeds whose text differs from feedparser's", [o for o in clean if o.differences], args.verbose
    )
    _print_differences(
        "bozo feeds whose text differs from feedparser's",
        [o for o in outcomes if not o.clean and o.differences],
        args.verbose,
    )
    return 1 if refused_clean or differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
