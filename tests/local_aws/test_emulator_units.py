"""The emulator's pure parts, without a server: pages, output keys, timestamps, template checks."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from local_aws.errors import ApiError
from local_aws.loop_output import output_s3_uri
from local_aws.pagination import paginate
from local_aws.timestamps import parse_iso, to_iso
from local_aws.ui_templates import check_bounding_boxes

T0 = datetime(2024, 2, 29, 23, 59, 58, 123000, tzinfo=UTC)


@dataclass
class Item:
    name: str
    creation_time: datetime


def test_a_page_token_survives_the_deletion_of_the_last_item_served():
    items = [Item(f"item-{index}", T0 + timedelta(seconds=index)) for index in range(4)]
    page, token = paginate(items, sort_order="Ascending", max_results=2, next_token=None)
    assert [item.name for item in page] == ["item-0", "item-1"]

    del items[1]
    page, token = paginate(items, sort_order="Ascending", max_results=2, next_token=token)

    assert [item.name for item in page] == ["item-2", "item-3"]
    assert token is None


def test_items_created_in_the_same_millisecond_are_ordered_by_name():
    items = [Item(name, T0) for name in ("b", "a", "c")]
    names = []
    token = None
    while True:
        page, token = paginate(items, sort_order="Descending", max_results=1, next_token=token)
        names += [item.name for item in page]
        if token is None:
            break
    assert names == ["c", "b", "a"]


def test_the_output_key_follows_a2i_layout_in_utc():
    created = datetime(2024, 3, 1, 6, 2, 3, 999000, tzinfo=UTC)
    uri = output_s3_uri("s3://bucket/prefix/", "flow", "loop", created)
    assert uri == "s3://bucket/prefix/flow/2024/03/01/06/02/03/loop/output.json"


def test_timestamps_round_trip_as_a2i_writes_them():
    assert to_iso(T0) == "2024-02-29T23:59:58.123Z"
    assert parse_iso("2024-02-29T23:59:58.123Z", "CreationTimeAfter") == T0
    assert parse_iso("2024-02-29", "CreationTimeAfter") == datetime(2024, 2, 29, tzinfo=UTC)
    with pytest.raises(ApiError) as excinfo:
        parse_iso("yesterday", "CreationTimeAfter")
    assert "CreationTimeAfter" in excinfo.value.message


def test_bounding_box_attributes_are_unescaped_before_they_are_checked():
    fine = '<crowd-bounding-box labels="[&quot;car&quot;]" initial-value="[]"></crowd-bounding-box>'
    assert check_bounding_boxes(fine) == []
    single_quoted = "<crowd-bounding-box labels='[\"car\"]'></crowd-bounding-box>"
    assert check_bounding_boxes(single_quoted) == []
    [missing] = check_bounding_boxes("<crowd-bounding-box name='x'></crowd-bounding-box>")
    assert "labels attribute is missing" in missing.message
