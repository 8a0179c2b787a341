"""List pages with opaque NextTokens, stable while items are added or deleted between calls."""

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from local_aws.core.errors import ApiError


class Listed(Protocol):
    name: str
    creation_time: datetime


ItemT = TypeVar("ItemT", bound=Listed)

DEFAULT_PAGE_SIZE = 10


def paginate(
    items: Sequence[ItemT], *, sort_order: str | None, max_results: int | None, next_token: str | None
) -> tuple[list[ItemT], str | None]:
    """One page of `items` by creation time (newest first unless `Ascending`) and the token for the next.

    The token is the sort key of the last item served, so the next page starts right after it.
    """
    descending = sort_order != "Ascending"
    ordered = sorted(items, key=_sort_key, reverse=descending)
    if next_token is not None:
        cursor = _decode(next_token)
        ordered = [
            item for item in ordered if (_sort_key(item) < cursor if descending else _sort_key(item) > cursor)
        ]
    size = max_results or DEFAULT_PAGE_SIZE
    page = ordered[:size]
    token = _encode(_sort_key(page[-1])) if len(ordered) > size else None
    return page, token


def _sort_key(item: Listed) -> tuple[str, str]:
    return (item.creation_time.isoformat(timespec="microseconds"), item.name)


def _encode(key: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def _decode(token: str) -> tuple[str, str]:
    try:
        created, name = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError, binascii.Error):
        raise ApiError("ValidationException", f"NextToken '{token}' is not a token this API issued") from None
    return (str(created), str(name))
