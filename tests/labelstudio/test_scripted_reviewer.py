"""What the scripted Label Studio reviewer submits for a task, and the labeling config template
(neither needs a server; the end-to-end tests use both against a real Label Studio)."""

from __future__ import annotations

import pytest

from hitl_detection.domain.label_studio_config import parse_labeling_config
from hitl_detection.operators.review_workflow import LABEL_STUDIO_MODEL_VERSION, render_labeling_config
from local_aws.actors.samples import read_truth
from local_labelstudio.reviewer import review

pytestmark = pytest.mark.labelstudio

LABELS = ["car", "person", "bicycle", "bus"]


@pytest.fixture(scope="module")
def template(project_root) -> str:
    return (project_root / "include" / "templates" / "label_studio_bounding_box.xml.j2").read_text()


@pytest.fixture(scope="module")
def street_08(project_root) -> bytes:
    # A car (tiny), a person (tiny), a bicycle and a truck; 640 x 400.
    return (project_root / "include" / "sample_images" / "street-08.jpg").read_bytes()


def percent(left, top, width, height, label) -> dict:
    return {
        "x": left / 6.4,
        "y": top / 4,
        "width": width / 6.4,
        "height": height / 4,
        "rectanglelabels": [label],
    }


def predicted(region_id: str, value: dict) -> dict:
    return {
        "id": region_id,
        "from_name": "label",
        "to_name": "image",
        "type": "rectanglelabels",
        "value": value,
    }


def pixels(region: dict) -> tuple:
    value = region["value"]
    return (
        value["rectanglelabels"][0],
        round(value["x"] * 6.4),
        round(value["y"] * 4),
        round(value["width"] * 6.4),
        round(value["height"] * 4),
    )


def test_the_template_offers_exactly_the_labels_escaped(template):
    labels = ["car", "traffic light", 'say "cheese"', "a&b <c>"]
    config = render_labeling_config(template, labels)
    parsed = parse_labeling_config(config)
    assert (parsed.image, parsed.control, parsed.labels) == ("image", "label", tuple(labels))
    assert 'canRotate="false"' in config
    assert '<Text name="hints" value="$hints"/>' in config


def test_the_template_refuses_bad_labels(template):
    with pytest.raises(ValueError, match=r"labels\[1\] 'car' is a duplicate"):
        render_labeling_config(template, ["car", "car"])


def test_a_reviewer_moves_what_the_model_found_deletes_what_is_not_there_and_draws_what_it_missed(
    template, street_08
):
    truth = {t["label"]: t for t in read_truth(street_08) if t["label"] in LABELS}
    bicycle = truth["bicycle"]
    project = {
        "label_config": render_labeling_config(template, LABELS),
        "model_version": LABEL_STUDIO_MODEL_VERSION,
    }
    task = {
        "predictions": [
            {
                "model_version": LABEL_STUDIO_MODEL_VERSION,
                "result": [
                    # Over the bicycle, 4 px off: moved onto it, keeping its region id.
                    predicted("bike", percent(bicycle["left"] + 4, bicycle["top"], 80, 80, "bicycle")),
                    # A bus where there is sky: deleted.
                    predicted("ghost", percent(300, 10, 100, 40, "bus")),
                ],
            },
            # Another model version's prediction is not shown to the reviewer.
            {"model_version": "other", "result": [predicted("x", percent(0, 0, 10, 10, "car"))]},
        ]
    }

    result = review(project, task, street_08, worker_index=0)

    by_label = {pixels(region)[0]: region for region in result}
    assert sorted(by_label) == ["bicycle", "car", "person"]
    assert by_label["bicycle"]["id"] == "bike"
    assert pixels(by_label["bicycle"]) == (
        "bicycle",
        bicycle["left"],
        bicycle["top"],
        bicycle["width"],
        bicycle["height"],
    )
    assert {region["id"] for region in result}.isdisjoint({"ghost", "x"})
    for region in result:
        assert (region["original_width"], region["original_height"]) == (640, 400)
        assert (region["from_name"], region["to_name"], region["type"]) == (
            "label",
            "image",
            "rectanglelabels",
        )


def test_a_second_reviewer_wobbles_by_at_most_two_pixels(template, street_08):
    project = {"label_config": render_labeling_config(template, LABELS), "model_version": "m"}
    first = sorted(pixels(region) for region in review(project, {"predictions": []}, street_08, 0))
    second = sorted(pixels(region) for region in review(project, {"predictions": []}, street_08, 1))
    assert [box[0] for box in first] == [box[0] for box in second]
    for a, b in zip(first, second, strict=True):
        left, top, right, bottom = (
            a[1] - b[1],
            a[2] - b[2],
            a[1] + a[3] - b[1] - b[3],
            a[2] + a[4] - b[2] - b[4],
        )
        assert max(abs(left), abs(top), abs(right), abs(bottom)) <= 2
