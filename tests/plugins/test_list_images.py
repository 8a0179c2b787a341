"""ListImagesOperator.execute against the stand-in: the run's images, in key order, as shard files
of SHARD_SIZE rows; at most max_images of them; only those of a scheduled run's interval; none
fails a run triggered by hand and skips a scheduled one."""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from support import (
    BUCKET,
    INPUT_PREFIX,
    image_row,
    make_plan,
    put_images,
    read_shards,
    stage_files,
    task_context,
)

from hitl_detection.domain.run_plan import SHARD_SIZE
from hitl_detection.operators.list_images import ListImagesOperator

pytestmark = pytest.mark.stack


def list_images(plan, **kwargs) -> dict:
    operator = ListImagesOperator(task_id="list_images", plan=plan.to_xcom(), **kwargs)
    return operator.execute(task_context())


def put_many(s3, names: list[str]) -> None:
    """Upload tiny objects in a shuffled order, so that key order is not upload order."""
    shuffled = random.Random(7).sample(names, len(names))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda name: put_images(s3, {name: b"not read by list_images"}), shuffled))


def listed_keys(plan) -> dict[int, list[str]]:
    return {shard: [row.key for row in rows] for shard, rows in read_shards(plan, "images").items()}


def test_images_are_written_in_key_order_as_shards_of_shard_size(aws, bucket):
    names = [f"street-{number:03d}.jpg" for number in range(2 * SHARD_SIZE + 5)]
    put_many(aws.client("s3"), names)
    plan = make_plan()

    result = list_images(plan)

    assert result == {"images": 2 * SHARD_SIZE + 5, "shards": 3}
    shards = read_shards(plan, "images")
    assert [len(rows) for rows in shards.values()] == [SHARD_SIZE, SHARD_SIZE, 5]
    assert [row for rows in shards.values() for row in rows] == [image_row(name) for name in names]


def test_max_images_takes_the_first_keys_only(aws, bucket):
    names = [f"street-{number:03d}.jpg" for number in range(SHARD_SIZE + 5)]
    put_many(aws.client("s3"), names)
    plan = make_plan(max_images=SHARD_SIZE + 1)

    assert list_images(plan) == {"images": SHARD_SIZE + 1, "shards": 2}
    assert listed_keys(plan) == {
        0: [f"{INPUT_PREFIX}{name}" for name in names[:SHARD_SIZE]],
        1: [f"{INPUT_PREFIX}{names[SHARD_SIZE]}"],
    }


def test_only_images_under_the_prefix_are_taken(aws, bucket):
    s3 = aws.client("s3")
    names = ["a.jpg", "b.JPEG", "c.png", "d.gif", "e.txt", "f.jpg.json", "g", "nested/h.jpg", "folder/"]
    put_images(s3, dict.fromkeys(names, b"x"))
    put_images(s3, {"i.jpg": b"x"}, prefix="other/")

    assert list_images(make_plan()) == {"images": 4, "shards": 1}
    assert listed_keys(make_plan()) == {
        0: [f"{INPUT_PREFIX}{name}" for name in ("a.jpg", "b.JPEG", "c.png", "nested/h.jpg")]
    }


def last_modified(s3, name: str):
    return s3.head_object(Bucket=BUCKET, Key=f"{INPUT_PREFIX}{name}")["LastModified"]


def test_a_scheduled_run_takes_the_images_of_its_interval_only(aws, bucket):
    s3 = aws.client("s3")
    put_images(s3, {"early-1.jpg": b"x", "early-2.png": b"x"})
    time.sleep(1.05 - time.time() % 1)  # S3 keeps LastModified to the second: the next one
    put_images(s3, {"late-1.jpg": b"x"})
    early, late = last_modified(s3, "early-1.jpg"), last_modified(s3, "late-1.jpg")
    assert early < late
    plan = make_plan()

    # The interval's start is included and its end excluded; templates render times as text.
    assert list_images(plan, modified_after=late, modified_before=late + timedelta(hours=1)) == {
        "images": 1,
        "shards": 1,
    }
    assert listed_keys(plan) == {0: [f"{INPUT_PREFIX}late-1.jpg"]}
    assert list_images(plan, modified_after=early.isoformat(), modified_before=late.isoformat()) == {
        "images": 2,
        "shards": 1,
    }
    assert listed_keys(plan) == {0: [f"{INPUT_PREFIX}early-1.jpg", f"{INPUT_PREFIX}early-2.png"]}


def test_an_interval_time_without_a_time_zone_is_refused(aws, bucket):
    put_images(aws.client("s3"), {"a.jpg": b"x"})

    with pytest.raises(ValueError, match="time '2026-11-25T00:00:00' has no time zone"):
        list_images(make_plan(), modified_after="2026-11-25T00:00:00")


def test_a_prefix_without_images_fails_a_run_triggered_by_hand(aws, bucket):
    put_images(aws.client("s3"), {"readme.txt": b"x"})

    with pytest.raises(
        AirflowFailException, match=f"input_s3_uri s3://{BUCKET}/{INPUT_PREFIX} holds no images"
    ):
        list_images(make_plan())


def test_an_interval_without_new_images_skips_the_scheduled_runs_work(aws, bucket):
    put_images(aws.client("s3"), {"a.jpg": b"x"})
    late = last_modified(aws.client("s3"), "a.jpg") + timedelta(seconds=1)
    plan = make_plan()

    with pytest.raises(
        AirflowSkipException, match=f"No image arrived under s3://{BUCKET}/{INPUT_PREFIX} between"
    ):
        list_images(plan, modified_after=late, modified_before=late + timedelta(days=1))

    assert read_shards(plan, "images") == {}


def test_a_listing_that_changed_since_an_earlier_try_drops_the_later_stages_of_what_changed(aws, bucket):
    names = [f"street-{number:03d}.jpg" for number in range(2 * SHARD_SIZE + 5)]
    put_many(aws.client("s3"), names)
    plan = make_plan()
    list_images(plan)
    # What the earlier try's later stages wrote, one file per stage and shard.
    for stage in ("detections", "reviews", "records"):
        for shard, rows in read_shards(plan, "images").items():
            write_shards_from(plan, stage, shard, rows)

    # Between the tries, one image of the second shard is replaced, and the third shard's go away.
    s3 = aws.client("s3")
    s3.delete_object(Bucket=BUCKET, Key=f"{INPUT_PREFIX}{names[SHARD_SIZE + 3]}")
    put_images(s3, {f"street-{SHARD_SIZE + 3:03d}b.jpg": b"new"})
    for name in names[2 * SHARD_SIZE :]:
        s3.delete_object(Bucket=BUCKET, Key=f"{INPUT_PREFIX}{name}")

    assert list_images(plan) == {"images": 2 * SHARD_SIZE, "shards": 2}

    files = stage_files(plan)
    assert files.shards("images") == [0, 1]
    for stage in ("detections", "reviews", "records"):
        assert files.shards(stage) == [0], f"{stage}: only the unchanged shard's work is kept"


def test_the_same_listing_again_keeps_what_later_stages_wrote(aws, bucket):
    put_many(aws.client("s3"), [f"street-{number:03d}.jpg" for number in range(SHARD_SIZE + 1)])
    plan = make_plan()
    list_images(plan)
    for shard, rows in read_shards(plan, "images").items():
        write_shards_from(plan, "detections", shard, rows)

    list_images(plan)

    assert stage_files(plan).shards("detections") == [0, 1]


def write_shards_from(plan, stage: str, shard: int, rows) -> None:
    stage_files(plan).write_rows(stage, shard, rows)
