"""DetectObjectsOperator.execute against the stand-in's simulated detector: every image gets a
detections row; a bad image fails itself only; a retry never sends the images of shards written
before; requests in flight stay at the plan's endpoint concurrency."""

from __future__ import annotations

import io
import threading

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from PIL import Image
from support import (
    BUCKET,
    INPUT_PREFIX,
    SAMPLES,
    image_row,
    make_plan,
    put_images,
    read_documents,
    read_shards,
    sample,
    task_context,
    write_shards,
)

from hitl_detection.dag_builder.params import DEFAULT_LABELS
from hitl_detection.domain.images import MAX_REALTIME_PAYLOAD_BYTES
from hitl_detection.operators.detect import DetectObjectsOperator
from local_aws.stack import reset, start_stack
from local_aws.workflow import create_endpoint

pytestmark = pytest.mark.stack

ENDPOINT = "team-detector"
SAMPLE_NAMES = sorted(path.name for path in SAMPLES.glob("street-*"))
# What the simulated detector sends to review with DEFAULT_LABELS (its module's table).
REVIEWED = {"street-04.jpg", "street-05.jpg", "street-06.png", "street-07.jpg", "street-08.jpg"}
REVIEWED |= {"street-09.jpg", "street-12.jpg"}


def detect(plan) -> dict:
    return DetectObjectsOperator(task_id="detect_objects", plan=plan.to_xcom()).execute(task_context())


@pytest.fixture
def endpoint(aws) -> str:
    return create_endpoint(aws.client("sagemaker"), ENDPOINT)


def staged(plan, aws, shards: list[dict[str, bytes]]) -> None:
    """Upload the images and write them as the images stage's shards, one dict per shard."""
    for images in shards:
        put_images(aws.client("s3"), images)
    write_shards(plan, "images", [[image_row(name) for name in images] for images in shards])


def pixel_size(body: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(body)) as image:
        return image.size


def test_every_image_gets_a_row_with_its_size_and_the_gate_decision(aws, bucket, endpoint):
    plan = make_plan(endpoint_name=ENDPOINT, labels=DEFAULT_LABELS)
    staged(
        plan,
        aws,
        [
            {name: sample(name) for name in SAMPLE_NAMES[:7]},
            {name: sample(name) for name in SAMPLE_NAMES[7:]},
        ],
    )

    result = detect(plan)

    assert result == {"images": 12, "accepted": 5, "needs_review": 7, "errors": 0, "reused_shards": 0}
    shards = read_shards(plan, "detections")
    assert [[row.key for row in rows] for rows in shards.values()] == [
        [f"{INPUT_PREFIX}{name}" for name in SAMPLE_NAMES[:7]],
        [f"{INPUT_PREFIX}{name}" for name in SAMPLE_NAMES[7:]],
    ]
    rows = [row for rows in shards.values() for row in rows]
    for row in rows:
        name = row.key.removeprefix(INPUT_PREFIX)
        assert row.error is None
        assert row.size == pixel_size(sample(name))
        assert row.needs_review == (name in REVIEWED), (name, row.decision.reasons)
        assert set(row.decision.accepted) | set(row.decision.uncertain) <= set(row.decision.kept)
        assert all(box.label in DEFAULT_LABELS for box in row.decision.accepted + row.decision.uncertain)
    assert any(row.decision.dropped_other_label for row in rows)  # street-03's dog, for one


def test_a_corrupt_image_a_non_image_and_a_vanished_one_fail_themselves_only(aws, bucket, endpoint):
    plan = make_plan(endpoint_name=ENDPOINT)
    good = sample("street-01.jpg")
    staged(
        plan, aws, [{"good.jpg": good, "truncated.jpg": good[:3000], "notes.jpg": b"hello", "gone.jpg": good}]
    )
    aws.client("s3").delete_object(Bucket=BUCKET, Key=f"{INPUT_PREFIX}gone.jpg")

    result = detect(plan)

    assert (result["images"], result["errors"]) == (4, 3)
    good_row, truncated, notes, gone = read_shards(plan, "detections")[0]
    assert (good_row.error, good_row.size) == (None, pixel_size(good))
    # The header of a truncated JPEG reads fine: the model is what refuses it.
    assert truncated.error.startswith("EndpointModelError: the model answered 400: ")
    assert (truncated.size, truncated.decision) == (None, None)
    assert notes.error == "ImageError: not a JPEG: starts with 68 65 6c 6c 6f"
    assert gone.error == "the image is no longer in S3"


def test_an_image_over_the_payload_limit_fails_before_it_is_sent(aws, bucket, endpoint, count_calls):
    plan = make_plan(endpoint_name=ENDPOINT)
    huge = b"\xff\xd8" + bytes(MAX_REALTIME_PAYLOAD_BYTES - 1)
    staged(plan, aws, [{"huge.jpg": huge, "fine.png": sample("street-11.png")}])
    calls = count_calls("sagemaker-runtime")

    result = detect(plan)

    assert (result["images"], result["errors"]) == (2, 1)
    huge_row, fine = read_shards(plan, "detections")[0]
    assert huge_row.error == (
        f"ImageError: the image has {MAX_REALTIME_PAYLOAD_BYTES + 1:,} bytes, above the "
        f"{MAX_REALTIME_PAYLOAD_BYTES:,}-byte (6 MB) request limit of a real-time SageMaker endpoint"
    )
    assert fine.error is None
    assert calls == {"InvokeEndpoint": 1}


def test_a_retry_sends_none_of_the_images_of_shards_written_before(aws, bucket, endpoint, on_botocore_event):
    plan = make_plan(endpoint_name=ENDPOINT)
    names = SAMPLE_NAMES[:6]
    staged(plan, aws, [{name: sample(name) for name in names[start : start + 2]} for start in (0, 2, 4)])
    crashing, sent = [True], []

    def endpoint_unreachable_at_the_last_image(params, **_):
        sent.append(params["body"])
        if crashing[0] and params["body"] == sample(names[-1]):
            raise EndpointConnectionError(endpoint_url="http://endpoint.invalid")

    on_botocore_event("before-call.sagemaker-runtime.InvokeEndpoint", endpoint_unreachable_at_the_last_image)
    with pytest.raises(EndpointConnectionError):
        detect(plan)
    written = read_documents(plan, "detections")
    assert list(written) == [0, 1]  # the first try wrote the shards it finished
    crashing[0] = False
    sent.clear()

    result = detect(plan)

    assert result == {"images": 2, "accepted": 0, "needs_review": 2, "errors": 0, "reused_shards": 2}
    assert sorted(sent) == sorted(sample(name) for name in names[4:])
    after = read_documents(plan, "detections")
    assert {shard: after[shard] for shard in (0, 1)} == written
    assert [row["key"] for row in after[2]] == [f"{INPUT_PREFIX}{name}" for name in names[4:]]


def test_an_endpoint_that_does_not_exist_fails_the_task(aws, bucket):
    plan = make_plan(endpoint_name="no-such-endpoint")
    staged(plan, aws, [{"a.png": sample("street-11.png")}])

    with pytest.raises(ClientError, match=r"Endpoint no-such-endpoint of account \d+ not found"):
        detect(plan)

    assert read_shards(plan, "detections") == {}


# Requests in flight, against an endpoint whose model takes a while per image


@pytest.fixture(scope="module")
def slow_stack(tmp_path_factory):
    log_path = tmp_path_factory.mktemp("local-aws-slow") / "stack.log"
    with start_stack("--detector-latency", "0.05", "--endpoint-capacity", "64", log_path=log_path) as running:
        yield running


@pytest.fixture
def slow_aws(slow_stack, monkeypatch):
    reset(slow_stack)
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", slow_stack.conn_uri_env)
    slow_stack.client("s3").create_bucket(Bucket=BUCKET)
    create_endpoint(slow_stack.client("sagemaker"), ENDPOINT)
    return slow_stack


@pytest.fixture
def in_flight(on_botocore_event) -> dict[str, int]:
    """InvokeEndpoint calls in flight now and at most, and calls made (retries inside one call count once)."""
    counts = {"now": 0, "peak": 0, "calls": 0}
    lock = threading.Lock()

    def started(**_):
        with lock:
            counts["now"] += 1
            counts["calls"] += 1
            counts["peak"] = max(counts["peak"], counts["now"])

    def finished(**_):
        with lock:
            counts["now"] -= 1

    on_botocore_event("before-call.sagemaker-runtime.InvokeEndpoint", started)
    on_botocore_event("after-call.sagemaker-runtime.InvokeEndpoint", finished)
    return counts


def test_requests_in_flight_reach_and_never_pass_the_plans_concurrency(slow_aws, in_flight):
    plan = make_plan(endpoint_name=ENDPOINT, concurrency_per_instance=3, endpoint_instances=2)
    assert plan.endpoint_concurrency == 6
    images = {f"img-{number:02d}.png": sample("street-11.png") for number in range(8 * 6)}
    staged(plan, slow_aws, [dict(list(images.items())[:30]), dict(list(images.items())[30:])])

    result = detect(plan)

    assert result["images"] == result["accepted"] == 48
    assert in_flight["calls"] == 48
    assert in_flight["peak"] == plan.endpoint_concurrency
