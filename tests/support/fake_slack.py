"""A fake Slack Web API on 127.0.0.1 for tests: it checks what Slack checks, records, and fails on cue.

Point the real ``slack_sdk.WebClient`` at it (``base_url=fake.base_url``; with Airflow, put the URL in the
connection's ``extra.base_url``)::

    with FakeSlack() as slack:
        client = WebClient(token="xoxb-test", base_url=slack.base_url)
        client.chat_postMessage(channel="#chip-alerts", text="hi")
        assert slack.messages_for("#chip-alerts")[0]["text"] == "hi"
        slack.fail_next("chat.postMessage", "ratelimited", times=2, retry_after=1)

API: ``start()``/``stop()`` (or ``with``), ``base_url``, ``messages`` (every accepted message, in order,
as last edited), ``updates`` (every accepted ``chat.update``: ts, channel, params),
``messages_for(channel)``, ``top_level(channel)``, ``replies(thread_ts)``, ``uploads``, ``calls``
(method, params) of every request, ``fail_next(method, kind, times=1, retry_after=1)``, ``reset()``,
``add_channel(name, member=True)``, ``user_token(user_id)`` (a token that acts as that user, e.g. to add
reactions through the real ``WebClient``), ``react(channel, ts, name, user)`` / ``unreact(...)`` (the
same without HTTP), ``max_reaction_users`` (history and replies list at most this many users of a
reaction, like Slack; ``reactions.get`` with ``full`` lists them all).

Fault kinds: ``ratelimited`` (HTTP 429 with Retry-After), ``server_error`` (HTTP 500, HTML body),
``drop`` (accept the message, then close the connection without answering), or any Slack error code
(``invalid_auth``, ``channel_not_found``, ``not_in_channel``, ``missing_scope`` ...) answered as
``{"ok": false, "error": kind}``.

Implemented: ``auth.test``, ``chat.postMessage``, ``chat.update`` (edits a message in place: its
``edits`` count goes up, ``updates`` records each call), ``chat.getPermalink``, ``conversations.history``,
``conversations.replies`` (both with each message's ``reactions``), ``conversations.list``,
``reactions.add``, ``reactions.remove``, ``reactions.get``, ``files.getUploadURLExternal`` + the upload
URL + ``files.completeUploadExternal`` (what ``files_upload_v2`` calls). JSON and form posts are accepted.
Messages are validated like Slack does (``invalid_blocks`` with the reasons, ``msg_too_long``,
``msg_blocks_too_long`` above ``MAX_BLOCKS_TEXT`` characters of block text in all, ``no_text``,
``invalid_metadata_format``, ``thread_not_found``; for edits also ``message_not_found``, and
``channel_not_found`` for a channel given by name, which chat.update does not accept); the fake is stricter in one way: a
message without ``text`` is refused even with blocks (this project always sends a fallback).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

TEXT_TYPES = ("plain_text", "mrkdwn")
# Slack answers msg_blocks_too_long above about this much text in all of a message's blocks (undocumented;
# observed between 12,000 and 13,300).
MAX_BLOCKS_TEXT = 12_000


def _truthy(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


def _text_errors(obj: Any, pointer: str, limit: int, *, plain_only: bool = False) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in TEXT_TYPES:
        return [f"must be a text object [json-pointer:{pointer}]"]
    if plain_only and obj["type"] != "plain_text":
        return [f"must be plain_text [json-pointer:{pointer}/type]"]
    text = obj.get("text")
    if not isinstance(text, str) or len(text) < 1:
        return [f"must be more than 0 characters [json-pointer:{pointer}/text]"]
    if len(text) > limit:
        return [f"must be less than {limit + 1} characters [json-pointer:{pointer}/text]"]
    if "emoji" in obj and obj["type"] != "plain_text":
        return [f"emoji is only allowed in plain_text [json-pointer:{pointer}/emoji]"]
    if "verbatim" in obj and obj["type"] != "mrkdwn":
        return [f"verbatim is only allowed in mrkdwn [json-pointer:{pointer}/verbatim]"]
    return []


def _element_errors(element: Any, pointer: str) -> list[str]:
    if not isinstance(element, dict):
        return [f"must be an object [json-pointer:{pointer}]"]
    if element.get("type") != "button":
        return [f"unsupported element type [json-pointer:{pointer}/type]"]
    errors = _text_errors(element.get("text"), f"{pointer}/text", 75, plain_only=True)
    url = element.get("url")
    if url is not None and (not isinstance(url, str) or len(url) > 3000):
        errors.append(f"must be less than 3001 characters [json-pointer:{pointer}/url]")
    if len(str(element.get("action_id", ""))) > 255:
        errors.append(f"must be less than 256 characters [json-pointer:{pointer}/action_id]")
    return errors


def validate_blocks(blocks: Any) -> list[str]:
    """Slack's Block Kit checks for the block types a message may carry; the reasons, like Slack words them."""
    if not isinstance(blocks, list):
        return ["must be an array [json-pointer:/blocks]"]
    errors: list[str] = []
    if len(blocks) > 50:
        errors.append("no more than 50 items allowed [json-pointer:/blocks]")
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        p = f"/blocks/{i}"
        if not isinstance(block, dict):
            errors.append(f"must be an object [json-pointer:{p}]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if len(str(block_id)) > 255 or block_id in block_ids:
                errors.append(f"invalid or duplicate block_id [json-pointer:{p}/block_id]")
            block_ids.add(block_id)
        kind = block.get("type")
        if kind == "header":
            errors += _text_errors(block.get("text"), f"{p}/text", 150, plain_only=True)
        elif kind == "section":
            text, fields = block.get("text"), block.get("fields")
            if text is None and not fields:
                errors.append(f"must provide text or fields [json-pointer:{p}]")
            if text is not None:
                errors += _text_errors(text, f"{p}/text", 3000)
            if fields is not None:
                if not isinstance(fields, list) or not 1 <= len(fields) <= 10:
                    errors.append(f"must provide 1 to 10 fields [json-pointer:{p}/fields]")
                else:
                    for j, f in enumerate(fields):
                        errors += _text_errors(f, f"{p}/fields/{j}", 2000)
            if block.get("accessory") is not None:
                errors += _element_errors(block["accessory"], f"{p}/accessory")
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
                errors.append(f"must provide 1 to 10 elements [json-pointer:{p}/elements]")
            else:
                for j, e in enumerate(elements):
                    if isinstance(e, dict) and e.get("type") == "image":
                        continue
                    errors += _text_errors(e, f"{p}/elements/{j}", 3000)
        elif kind == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 25:
                errors.append(f"must provide 1 to 25 elements [json-pointer:{p}/elements]")
            else:
                for j, e in enumerate(elements):
                    errors += _element_errors(e, f"{p}/elements/{j}")
        elif kind == "divider":
            pass
        else:
            errors.append(f"unsupported block type {kind!r} [json-pointer:{p}/type]")
    return errors


def blocks_text(value: Any) -> int:
    """Characters of text in every text object of ``value``."""
    if isinstance(value, dict):
        if value.get("type") in TEXT_TYPES and isinstance(value.get("text"), str):
            return len(value["text"])
        return sum(blocks_text(v) for v in value.values())
    if isinstance(value, list):
        return sum(blocks_text(v) for v in value)
    return 0


@dataclass
class _Fault:
    kind: str
    remaining: int
    retry_after: int


class _ApiError(Exception):
    def __init__(self, code: str, status: int = 200, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.status = status
        self.extra = extra


def _json_param(value: Any, error: str) -> Any:
    """A parameter that form posts send as a JSON string; Slack answers ``error`` when it is not JSON."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        raise _ApiError(error) from None


class FakeSlack:
    """The fake server. Thread-safe; every accepted message is a dict with ``ts``, ``channel`` (id),
    ``channel_name`` (``#name``), ``text``, ``blocks``, ``thread_ts``, ``reply_broadcast``, ``metadata``,
    ``params`` (everything posted).
    """

    def __init__(
        self,
        *,
        token_prefix: str = "xoxb-",
        auto_create_channels: bool = True,
        per_channel_interval: float | None = None,
    ) -> None:
        self.token_prefix = token_prefix
        self.auto_create_channels = auto_create_channels
        # When set, a second post to a channel within this many seconds is answered 429 (like Slack).
        self.per_channel_interval = per_channel_interval
        # When set, history and replies show at most this many users per reaction (count stays exact).
        self.max_reaction_users: int | None = None
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.reset()

    # --- lifecycle ---

    def start(self) -> FakeSlack:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-slack", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "FakeSlack is not started"
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    # --- scripting and inspection ---

    def reset(self) -> None:
        """Forget messages, uploads, calls, faults and channels."""
        with self._lock:
            self.messages: list[dict[str, Any]] = []
            self.updates: list[dict[str, Any]] = []
            self.uploads: list[dict[str, Any]] = []
            self.calls: list[tuple[str, dict[str, Any]]] = []
            self._faults: dict[str, list[_Fault]] = {}
            self._channels: dict[str, dict[str, Any]] = {}  # id -> {"id", "name", "is_member"}
            self._pending_files: dict[str, dict[str, Any]] = {}
            self._last_ts = 0.0
            self._last_post: dict[str, float] = {}
            self._user_tokens: dict[str, str] = {}  # token -> user id

    def fail_next(self, method: str, kind: str, times: int = 1, retry_after: int = 1) -> None:
        """The next ``times`` calls of ``method`` fail with ``kind`` (see the module docstring)."""
        with self._lock:
            self._faults.setdefault(method, []).append(_Fault(kind, times, retry_after))

    def add_channel(self, name: str, *, member: bool = True, channel_id: str | None = None) -> str:
        """Create a channel (``#name``); ``member=False`` makes posts answer ``not_in_channel``."""
        name = name.lstrip("#")
        cid = channel_id or "C" + hashlib.sha256(name.encode()).hexdigest()[:9].upper()
        with self._lock:
            self._channels[cid] = {"id": cid, "name": name, "is_member": member}
        return cid

    def user_token(self, user_id: str) -> str:
        """A user token (``xoxp-``) whose calls act as ``user_id`` (reactions.add, reactions.remove)."""
        token = f"xoxp-fake-{user_id.lower()}"
        with self._lock:
            self._user_tokens[token] = user_id
        return token

    def _message(self, channel: str, ts: str) -> dict[str, Any]:
        cid = self.channel_id(channel)
        with self._lock:
            for m in self.messages:
                if m["channel"] == cid and m["ts"] == ts:
                    return m
        raise _ApiError("message_not_found")

    def react(self, channel: str, ts: str, name: str, user: str) -> None:
        """``user`` reacts to a message with ``name`` (test set-up without HTTP)."""
        with self._lock:
            users = self._message(channel, ts)["reactions"].setdefault(name, [])
            if user in users:
                raise _ApiError("already_reacted")
            users.append(user)

    def unreact(self, channel: str, ts: str, name: str, user: str) -> None:
        """``user`` takes their ``name`` reaction back."""
        with self._lock:
            reactions = self._message(channel, ts)["reactions"]
            if user not in reactions.get(name, []):
                raise _ApiError("no_reaction")
            reactions[name].remove(user)
            if not reactions[name]:
                del reactions[name]

    def channel_id(self, channel: str) -> str | None:
        with self._lock:
            if channel in self._channels:
                return channel
            name = channel.lstrip("#")
            return next((c["id"] for c in self._channels.values() if c["name"] == name), None)

    def messages_for(self, channel: str) -> list[dict[str, Any]]:
        """Every accepted message in ``channel`` (name or id), thread replies included, oldest first."""
        cid = self.channel_id(channel)
        with self._lock:
            return [m for m in self.messages if m["channel"] == cid]

    def top_level(self, channel: str) -> list[dict[str, Any]]:
        """Messages visible in the channel itself: not thread replies, or replies also sent to the channel."""
        return [m for m in self.messages_for(channel) if not m["thread_ts"] or m["reply_broadcast"]]

    def replies(self, thread_ts: str) -> list[dict[str, Any]]:
        with self._lock:
            return [m for m in self.messages if m["thread_ts"] == thread_ts]

    def calls_of(self, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return [params for m, params in self.calls if m == method]

    # --- request handling (called by the handler thread) ---

    def _take_fault(self, method: str) -> _Fault | None:
        with self._lock:
            queue = self._faults.get(method) or []
            if not queue:
                return None
            fault = queue[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.pop(0)
            return fault

    def _next_ts(self) -> str:
        with self._lock:
            self._last_ts = max(time.time(), self._last_ts + 0.000001)
            return f"{self._last_ts:.6f}"

    def _resolve(self, channel: Any, *, by_name: bool) -> dict[str, Any]:
        if not isinstance(channel, str) or not channel:
            raise _ApiError("channel_not_found")
        with self._lock:
            if channel in self._channels:
                return self._channels[channel]
            if not by_name:
                # conversations.history, chat.getPermalink, files.completeUploadExternal need an id.
                raise _ApiError("channel_not_found")
            name = channel.lstrip("#")
            for c in self._channels.values():
                if c["name"] == name:
                    return c
            if not self.auto_create_channels:
                raise _ApiError("channel_not_found")
        return self._channels[self.add_channel(name)]

    def handle(self, method: str, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        with self._lock:
            self.calls.append((method, params))
            acting_user = self._user_tokens.get(token or "")
        if not token:
            raise _ApiError("not_authed")
        if acting_user is None and not token.startswith(self.token_prefix):
            raise _ApiError("invalid_auth")
        if method in ("reactions.add", "reactions.remove"):
            return self._reaction_change(method, params, acting_user or "UFAKEBOT")
        handler = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update_message,
            "chat.getPermalink": self._permalink,
            "conversations.history": self._history,
            "conversations.replies": self._replies,
            "conversations.list": self._list,
            "reactions.get": self._reactions_get,
            "files.getUploadURLExternal": self._upload_url,
            "files.completeUploadExternal": self._complete_upload,
        }.get(method)
        if handler is None:
            raise _ApiError("unknown_method", status=404)
        return handler(params)

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "user_id": "UFAKEBOT",
            "user": "chip-news",
            "team": "fake",
            "team_id": "TFAKE",
            "bot_id": "BFAKE",
        }

    def _post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve(params.get("channel"), by_name=True)
        if not channel["is_member"]:
            raise _ApiError("not_in_channel")
        text, blocks, metadata = self._content(params)
        thread_ts = params.get("thread_ts") or None
        with self._lock:
            if thread_ts and not any(
                m["ts"] == thread_ts and m["channel"] == channel["id"] and not m["thread_ts"]
                for m in self.messages
            ):
                raise _ApiError("thread_not_found")
            now = time.monotonic()
            if self.per_channel_interval is not None:
                last = self._last_post.get(channel["id"])
                if last is not None and now - last < self.per_channel_interval:
                    raise _ApiError("ratelimited", status=429, retry_after=1)
                self._last_post[channel["id"]] = now
            message = {
                "ts": self._next_ts(),
                "channel": channel["id"],
                "channel_name": f"#{channel['name']}",
                "text": text,
                "blocks": blocks or [],
                "thread_ts": thread_ts,
                "reply_broadcast": _truthy(params.get("reply_broadcast")),
                "metadata": metadata,
                "unfurl_links": params.get("unfurl_links"),
                "unfurl_media": params.get("unfurl_media"),
                "params": params,
                "reactions": {},
                "edits": 0,
            }
            self.messages.append(message)
        return {
            "channel": channel["id"],
            "ts": message["ts"],
            "message": {"type": "message", "text": text, "ts": message["ts"], "bot_id": "BFAKE"},
        }

    @staticmethod
    def _content(params: dict[str, Any]) -> tuple[str, Any, Any]:
        """(text, blocks, metadata) of a post or an edit, checked the way Slack checks them."""
        text = params.get("text")
        blocks = _json_param(params.get("blocks"), "invalid_blocks_format")
        if not text:
            raise _ApiError("no_text")
        if len(text) > 40000:
            raise _ApiError("msg_too_long")
        if blocks is not None:
            errors = validate_blocks(blocks)
            if errors:
                raise _ApiError("invalid_blocks", errors=errors)
            if blocks_text(blocks) > MAX_BLOCKS_TEXT:
                raise _ApiError("msg_blocks_too_long")
        metadata = _json_param(params.get("metadata"), "invalid_metadata_format")
        if metadata is not None and (
            not isinstance(metadata, dict)
            or not isinstance(metadata.get("event_type"), str)
            or not metadata["event_type"]
            or not isinstance(metadata.get("event_payload"), dict)
        ):
            raise _ApiError("invalid_metadata_format")
        return str(text), blocks, metadata

    def _update_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve(params.get("channel"), by_name=False)
        ts = str(params.get("ts", ""))
        text, blocks, metadata = self._content(params)
        with self._lock:
            message = next(
                (m for m in self.messages if m["ts"] == ts and m["channel"] == channel["id"]), None
            )
            if message is None:
                raise _ApiError("message_not_found")
            message["text"] = text
            if blocks is not None:
                message["blocks"] = blocks
            if metadata is not None:
                message["metadata"] = metadata
            message["edits"] = message.get("edits", 0) + 1
            self.updates.append({"ts": ts, "channel": channel["id"], "params": params})
        return {"channel": channel["id"], "ts": ts, "text": text}

    def _permalink(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve(params.get("channel"), by_name=False)
        ts = str(params.get("message_ts", ""))
        with self._lock:
            if not any(m["ts"] == ts and m["channel"] == channel["id"] for m in self.messages):
                raise _ApiError("message_not_found")
        return {
            "channel": channel["id"],
            "permalink": f"https://fake.slack.test/archives/{channel['id']}/p{ts.replace('.', '')}",
        }

    def _render(
        self, message: dict[str, Any], with_metadata: bool, *, full_reactions: bool = False
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "message",
            "ts": message["ts"],
            "text": message["text"],
            "bot_id": "BFAKE",
        }
        if message["blocks"]:
            out["blocks"] = message["blocks"]
        if message["thread_ts"]:
            out["thread_ts"] = message["thread_ts"]
            if message["reply_broadcast"]:
                out["subtype"] = "thread_broadcast"
        if with_metadata and message["metadata"]:
            out["metadata"] = message["metadata"]
        if message["reactions"]:
            shown = None if full_reactions else self.max_reaction_users
            out["reactions"] = [
                {"name": name, "users": list(users[:shown]), "count": len(users)}
                for name, users in message["reactions"].items()
            ]
        return out

    def _reaction_change(self, method: str, params: dict[str, Any], user: str) -> dict[str, Any]:
        channel = self._resolve(params.get("channel"), by_name=False)
        name = str(params.get("name") or "")
        if not name or ":" in name.replace("::skin-tone", ""):
            raise _ApiError("invalid_name")
        ts = str(params.get("timestamp") or "")
        if method == "reactions.add":
            self.react(channel["id"], ts, name, user)
        else:
            self.unreact(channel["id"], ts, name, user)
        return {}

    def _reactions_get(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve(params.get("channel"), by_name=False)
        with self._lock:
            message = self._message(channel["id"], str(params.get("timestamp") or ""))
            rendered = self._render(message, False, full_reactions=_truthy(params.get("full")))
        return {"type": "message", "channel": channel["id"], "message": rendered}

    def _page(self, items: list[dict[str, Any]], params: dict[str, Any], key: str) -> dict[str, Any]:
        limit = int(params.get("limit") or 100)
        start = int(params.get("cursor") or 0)
        page = items[start : start + limit]
        more = start + limit < len(items)
        return {
            key: page,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve(params.get("channel"), by_name=False)
        oldest = float(params.get("oldest") or 0)
        latest = float(params.get("latest") or "inf")
        with_metadata = _truthy(params.get("include_all_metadata"))
        with self._lock:
            found = [
                self._render(m, with_metadata)
                for m in self.messages
                if m["channel"] == channel["id"]
                and (not m["thread_ts"] or m["reply_broadcast"])
                and oldest < float(m["ts"]) <= latest
            ]
        found.sort(key=lambda m: float(m["ts"]), reverse=True)
        return self._page(found, params, "messages")

    def _replies(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve(params.get("channel"), by_name=False)
        ts = str(params.get("ts", ""))
        oldest = float(params.get("oldest") or 0)
        with_metadata = _truthy(params.get("include_all_metadata"))
        with self._lock:
            parent = [m for m in self.messages if m["ts"] == ts and m["channel"] == channel["id"]]
            if not parent:
                raise _ApiError("thread_not_found")
            replies = [
                self._render(m, with_metadata)
                for m in self.messages
                if m["thread_ts"] == ts and m["channel"] == channel["id"] and float(m["ts"]) > oldest
            ]
        return self._page([self._render(parent[0], with_metadata), *replies], params, "messages")

    def _list(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            channels = [
                {"id": c["id"], "name": c["name"], "is_member": c["is_member"], "is_channel": True}
                for c in self._channels.values()
            ]
        return self._page(channels, params, "channels")

    def _upload_url(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("filename") or not str(params.get("length", "")).isdigit():
            raise _ApiError("invalid_arguments")
        file_id = "F" + hashlib.sha256(f"{time.time()}{len(self.calls)}".encode()).hexdigest()[:10].upper()
        with self._lock:
            self._pending_files[file_id] = {
                "id": file_id,
                "filename": params["filename"],
                "length": int(params["length"]),
                "content": None,
            }
        return {"upload_url": f"http://127.0.0.1:{self.port}/upload/{file_id}", "file_id": file_id}

    def receive_upload(self, file_id: str, body: bytes) -> bool:
        with self._lock:
            pending = self._pending_files.get(file_id)
            if pending is None:
                return False
            pending["content"] = body
        return True

    def _complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        files = params.get("files")
        if isinstance(files, str):
            files = json.loads(files)
        channel = self._resolve(params.get("channel_id"), by_name=False) if params.get("channel_id") else None
        if channel is not None and not channel["is_member"]:
            raise _ApiError("not_in_channel")
        done: list[dict[str, Any]] = []
        with self._lock:
            for f in files or []:
                pending = self._pending_files.pop(str(f.get("id")), None)
                if pending is None or pending["content"] is None:
                    raise _ApiError("file_not_found")
                upload = {
                    **pending,
                    "title": f.get("title"),
                    "channel": channel["id"] if channel else None,
                    "thread_ts": params.get("thread_ts") or None,
                    "initial_comment": params.get("initial_comment"),
                }
                self.uploads.append(upload)
                done.append({"id": upload["id"], "title": upload["title"], "name": upload["filename"]})
        return {"files": done}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeSlack
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _params(self, body: bytes) -> dict[str, Any]:
        params: dict[str, Any] = dict(parse_qsl(urlsplit(self.path).query))
        ctype = self.headers.get("Content-Type", "")
        if body and "json" in ctype:
            params.update(json.loads(body.decode("utf-8")))
        elif body:
            params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        return params

    def _reply(self, status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
        self.send_response(status)
        ctype = "text/html" if isinstance(payload, bytes) else "application/json; charset=utf-8"
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.do_POST()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = urlsplit(self.path).path
        if path.startswith("/upload/"):
            ok = self.fake.receive_upload(path.rsplit("/", 1)[-1], body)
            self._reply(200 if ok else 404, f"OK - {len(body)}".encode() if ok else b"not found")
            return
        if not path.startswith("/api/"):
            self._reply(404, b"not found")
            return
        method = path[len("/api/") :]
        params = self._params(body)
        auth = self.headers.get("Authorization", "")
        token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else params.get("token")
        fault = self.fake._take_fault(method)
        if fault is not None and fault.kind == "ratelimited":
            with self.fake._lock:
                self.fake.calls.append((method, params))
            self._reply(429, {"ok": False, "error": "ratelimited"}, [("Retry-After", str(fault.retry_after))])
            return
        if fault is not None and fault.kind == "server_error":
            with self.fake._lock:
                self.fake.calls.append((method, params))
            self._reply(500, b"<html><body>500 Internal Server Error</body></html>")
            return
        if fault is not None and fault.kind not in ("drop",):
            with self.fake._lock:
                self.fake.calls.append((method, params))
            self._reply(200, {"ok": False, "error": fault.kind})
            return
        try:
            result = self.fake.handle(method, params, token)
        except _ApiError as e:
            headers = [("Retry-After", str(e.extra.pop("retry_after")))] if "retry_after" in e.extra else []
            self._reply(e.status, {"ok": False, "error": e.code, **e.extra}, headers)
            return
        if fault is not None and fault.kind == "drop":
            # Slack accepted it, but the answer is lost: the client cannot know the message was posted.
            self.close_connection = True
            return
        self._reply(200, {"ok": True, **result})
