"""The emulator's pure parts, without a server: pages, output keys, timestamps, template checks, and
the constraints read from botocore's service models."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from botocore.loaders import Loader

from local_aws.a2i.loop_output import output_s3_uri
from local_aws.a2i.ui_templates import check_bounding_boxes
from local_aws.a2i.validation import OperationInput
from local_aws.core.errors import ApiError
from local_aws.core.pagination import paginate
from local_aws.core.service_models import input_member
from local_aws.core.timestamps import parse_iso, to_iso

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


def test_a_member_is_found_by_its_path_in_the_request():
    shapes = Loader().load_service_model("sagemaker", "service-2")["shapes"]
    keyword = input_member("sagemaker", "CreateFlowDefinition", "HumanLoopConfig.TaskKeywords.2.member")
    assert keyword.metadata == {
        key: shapes["FlowDefinitionTaskKeyword"][key] for key in ("min", "max", "pattern")
    }
    assert input_member("sagemaker-runtime", "InvokeEndpoint", "Body").metadata["max"] == 6 * 1024 * 1024


def test_a_check_applies_the_model_s_limits_and_names_the_member():
    start = OperationInput("sagemaker-a2i-runtime", "StartHumanLoop")
    assert start.string("loop-1", "HumanLoopName") == "loop-1"
    with pytest.raises(ApiError) as excinfo:
        start.string("l" * 64, "HumanLoopName")
    assert excinfo.value.message.endswith(
        "at 'HumanLoopName' failed to satisfy constraint: Member must have length less than or equal to 63"
    )
    with pytest.raises(ApiError) as excinfo:
        start.enum("FreeOfEverything", "DataAttributes.ContentClassifiers.1.member", required=True)
    assert "[FreeOfPersonallyIdentifiableInformation, FreeOfAdultContent]" in excinfo.value.message
