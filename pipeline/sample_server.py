"""A loopback HTTP server for the bundled sample feeds (``samples/feeds``), used by the demo and tests.

The pipeline fetches the samples through its real HTTP code path; this server answers like a well-kept
feed host: content types, ETag and Last-Modified with 304 on conditional requests.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pipeline.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

SAMPLES_DIR = PROJECT_ROOT / "samples" / "feeds"
DEFAULT_PORT = 8765

_CONTENT_TYPES = {
    ".atom": "application/atom+xml",
    ".rss": "application/rss+xml",
    ".xml": "application/rss+xml",
}


def _content_type(path: Path, body: bytes) -> str:
    ctype = _CONTENT_TYPES.get(path.suffix, "application/octet-stream")
    if b"<feed" in body[:600]:
        ctype = "application/atom+xml"
    # Declare a charset only for UTF-8 files; the GBK sample relies on its XML declaration, as such
    # feeds do in the wild.
    head = body[:200].lower()
    if b'encoding="utf-8"' in head or b"encoding='utf-8'" in head:
        ctype += "; charset=utf-8"
    return ctype


def make_handler(root: Path) -> type[BaseHTTPRequestHandler]:
    class SampleFeedHandler(BaseHTTPRequestHandler):
        server_version = "chip-news-samples/1.0"

        def do_GET(self) -> None:
            name = self.path.split("?", 1)[0].removeprefix("/feeds/")
            path = (root / name).resolve()
            if "/" in name or not name or not path.is_file() or path.parent != root.resolve():
                self.send_error(404, "no such sample feed")
                return
            body = path.read_bytes()
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'  # noqa: S324 - a cache validator
            last_modified = formatdate(path.stat().st_mtime, usegmt=True)
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", _content_type(path, body))
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", last_modified)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("sample server: " + format, *args)

    return SampleFeedHandler


def make_server(
    host: str = "127.0.0.1", port: int = DEFAULT_PORT, root: Path = SAMPLES_DIR
) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), make_handler(root))
    server.daemon_threads = True
    return server


@contextmanager
def serving(host: str = "127.0.0.1", port: int = 0, root: Path = SAMPLES_DIR) -> Iterator[str]:
    """Serve the samples in a background thread; yields the base URL (``http://host:port``)."""
    server = make_server(host, port, root)
    thread = threading.Thread(target=server.serve_forever, name="sample-feeds", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def write_sample_feed_list(base_url: str, out_path: Path, template: Path | None = None) -> Path:
    """Copy ``config/feeds.sample.yaml`` with its URLs pointed at ``base_url`` (a server on another port)."""
    template = template or PROJECT_ROOT / "config" / "feeds.sample.yaml"
    text = template.read_text(encoding="utf-8")
    text = text.replace(f"http://127.0.0.1:{DEFAULT_PORT}", base_url.rstrip("/"))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(text, encoding="utf-8")
    return out_path
