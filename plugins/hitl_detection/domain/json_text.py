"""JSON documents that arrive as bytes, text or already parsed (an S3 body, an HTTP answer)."""

from __future__ import annotations

import json
from typing import Any


def load_json(payload: Any, error: type[ValueError], what: str) -> Any:
    """Bytes or text parsed as UTF-8 JSON; anything else is returned as it is, for the caller to
    check its shape. Raises `error`, naming `what`, for bytes that are not UTF-8 or text that is
    not JSON (with the start of the text, so that a log shows what came instead)."""
    if isinstance(payload, bytes | bytearray):
        try:
            payload = bytes(payload).decode("utf-8")
        except UnicodeDecodeError as problem:
            raise error(f"{what} is not UTF-8 text: {problem}") from problem
    if isinstance(payload, str):
        try:
            return json.loads(payload)
        except json.JSONDecodeError as problem:
            raise error(f"{what} is not JSON: {problem}; starts with {payload[:80]!r}") from problem
    return payload
