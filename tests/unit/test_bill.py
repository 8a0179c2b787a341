"""A run's bill: instance-seconds times the hourly price, reviewed objects times the backend's price,
and a note instead of a figure wherever a time or a price is missing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hitl_detection.domain.bill import (
    InferenceTime,
    PriceTable,
    PriceTableError,
    format_bill,
    run_bill,
)

PRICES_FILE = Path(__file__).resolve().parents[2] / "include" / "prices.json"
TABLE = {
    "currency": "USD",
    "region": "us-east-1",
    "date": "2026-12-04",
    "sources": {
        "instance_hour": "https://example.com/sagemaker",
        "review_per_object": "https://example.com/a2i",
    },
    "instance_hour": {"ml.m4.xlarge": 0.24},
    "review_per_object": {"a2i": 0.08, "labelstudio": 0},
}
PRICES = PriceTable.from_json(TABLE)
START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def bill(time: InferenceTime, *, instance_type="ml.m4.xlarge", count=2, backend="a2i", reviewed=7) -> dict:
    return run_bill(
        inference=time,
        instance_type=instance_type,
        instance_count=count,
        review_backend=backend,
        objects_reviewed=reviewed,
        prices=PRICES,
    )


def test_the_projects_price_table_names_its_sources_and_date():
    table = PriceTable.from_json(json.loads(PRICES_FILE.read_text()))

    assert table.instance_hour["ml.m4.xlarge"] == 0.24
    assert table.review_per_object == {"a2i": 0.08, "labelstudio": 0.0}
    assert table.date == "2026-12-04"
    assert set(table.sources) == {"instance_hour", "review_per_object"}


def test_a_deployed_endpoint_bills_its_instance_seconds_and_reviews_their_objects():
    time = InferenceTime(START, START + timedelta(minutes=30))

    result = bill(time)

    assert result["inference"] == {
        "instance_type": "ml.m4.xlarge",
        "instance_count": 2,
        "billed_from": START.isoformat(),
        "billed_until": (START + timedelta(minutes=30)).isoformat(),
        "price_per_instance_hour": 0.24,
        "seconds": 1800,
        "cost": 0.24,
        "note": None,
    }
    assert result["review"] == {
        "backend": "a2i",
        "objects": 7,
        "price_per_object": 0.08,
        "cost": 0.56,
        "note": None,
    }
    assert result["total"] == pytest.approx(0.8)
    assert result["currency"] == "USD"
    assert result["prices"] == {"region": "us-east-1", "date": "2026-12-04", "sources": TABLE["sources"]}


def test_a_reused_endpoint_and_a_self_hosted_backend_cost_the_run_nothing():
    result = bill(InferenceTime(None, None), backend="labelstudio")

    assert (result["inference"]["seconds"], result["inference"]["cost"]) == (0, 0)
    assert "started no inference instance" in result["inference"]["note"]
    assert result["review"]["cost"] == 0
    assert result["total"] == 0


@pytest.mark.parametrize(
    ("time", "note"),
    [
        (InferenceTime(START, None), "the end of inference was not recorded"),
        (InferenceTime(None, START), "the start of inference was not recorded"),
    ],
)
def test_a_missing_time_gives_no_inference_cost_and_no_total(time, note):
    result = bill(time)

    assert (result["inference"]["seconds"], result["inference"]["cost"], result["inference"]["note"]) == (
        None,
        None,
        note,
    )
    assert result["total"] is None


def test_unknown_prices_are_noted_not_guessed():
    result = bill(
        InferenceTime(START, START + timedelta(hours=1)), instance_type="ml.x9.huge", backend="mturk"
    )

    assert result["inference"]["seconds"] == 3600
    assert result["inference"]["cost"] is None
    assert result["inference"]["note"] == "no price for instance type ml.x9.huge"
    assert result["review"]["cost"] is None
    assert result["review"]["note"] == "no price for review backend mturk"
    assert result["total"] is None


def test_the_inference_time_spans_the_tasks_that_recorded_one():
    time = InferenceTime.from_task_results(
        [
            {"endpoint": "e", "billed_from": START.isoformat()},
            None,
            {"billed_from": (START + timedelta(seconds=5)).isoformat(), "billed_until": None},
            {"endpoint": "deleted", "billed_until": (START + timedelta(seconds=90)).isoformat()},
        ]
    )

    assert time == InferenceTime(START, START + timedelta(seconds=90))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "it is a list, expected a JSON object"),
        ({"currency": "USD"}, "it has no region, date, sources, instance_hour, review_per_object"),
        ({**TABLE, "instance_hour": [0.24]}, "instance_hour is a list, expected an object of prices"),
        ({**TABLE, "review_per_object": {"a2i": -1}}, "review_per_object.a2i is -1, expected a number >= 0"),
        (
            {**TABLE, "review_per_object": {"a2i": True}},
            "review_per_object.a2i is True, expected a number >= 0",
        ),
        ({**TABLE, "instance_hour": {"ml.m4.xlarge": "0.24"}}, "instance_hour.ml.m4.xlarge is '0.24'"),
    ],
)
def test_a_bad_price_table_is_refused_naming_the_problem(data, message):
    with pytest.raises(PriceTableError) as raised:
        PriceTable.from_json(data)

    assert str(raised.value).startswith(message)


def test_the_bill_reads_as_text():
    text = format_bill(bill(InferenceTime(START, START + timedelta(seconds=600))))

    assert text.splitlines() == [
        "Bill (USD; prices for us-east-1 as of 2026-12-04):",
        "  Inference: 2 x ml.m4.xlarge for 600 s at 0.2400 an instance-hour = 0.0800",
        "  Review: 7 objects reviewed with a2i at 0.0800 each = 0.5600",
        "  Total: 0.6400",
        "  Prices of instance_hour: https://example.com/sagemaker",
        "  Prices of review_per_object: https://example.com/a2i",
    ]


def test_unknown_figures_read_as_question_marks_with_the_reason():
    text = format_bill(bill(InferenceTime(START, None), backend="mturk"))

    assert "for ? s at 0.2400 an instance-hour = ? (the end of inference was not recorded)" in text
    assert "at ? each = ? (no price for review backend mturk)" in text
    assert "  Total: ?" in text
