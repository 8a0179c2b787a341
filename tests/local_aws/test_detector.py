"""The simulated GluonCV detector: the container's format and the designed mistakes."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image

from local_aws.actors import samples
from local_aws.endpoint import detector
from local_aws.endpoint.detector import ImageDecodeError, SimulatedDetector, UnsupportedContentTypeError

DEMO_LABELS = {"car", "person", "bicycle", "bus"}
CONTENT_TYPE = {"jpeg": "image/jpeg", "png": "image/png"}

# Which bundled images the demo (labels above, threshold 0.9, min_score 0.2) sends to review.
NEEDS_REVIEW = {
    "street-01.jpg": False,
    "street-02.jpg": False,
    "street-03.jpg": False,
    "street-04.jpg": True,
    "street-05.jpg": True,
    "street-06.png": True,
    "street-07.jpg": True,
    "street-08.jpg": True,
    "street-09.jpg": True,
    "street-10.jpg": False,
    "street-11.png": False,
    "street-12.jpg": True,
}


def _iou(detection: dict, truth: dict) -> float:
    right, bottom = truth["left"] + truth["width"], truth["top"] + truth["height"]
    w = min(detection["right"], right) - max(detection["left"], truth["left"])
    h = min(detection["bottom"], bottom) - max(detection["top"], truth["top"])
    inter = max(w, 0) * max(h, 0)
    area = (detection["right"] - detection["left"]) * (detection["bottom"] - detection["top"])
    return inter / (area + truth["width"] * truth["height"] - inter)


def _best(detections: list[dict], truth: dict, low: float, high: float) -> dict | None:
    candidates = [d for d in detections if d["id"] == truth["label"] and low <= d["score"] <= high]
    return max(candidates, key=lambda d: _iou(d, truth), default=None)


def _found(detections: list[dict], hard: dict) -> bool:
    """Whether the model found a hard object: an uncertain box of its label overlapping it."""
    best = _best(detections, hard, 0.3, 0.85)
    return best is not None and _iou(best, hard) >= 0.5


def _plain(fmt: str, color="white") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(out, fmt)
    return out.getvalue()


def _centre_inside(detection: dict, truth: dict) -> bool:
    x = (detection["left"] + detection["right"]) / 2
    y = (detection["top"] + detection["bottom"]) / 2
    return (
        truth["left"] <= x <= truth["left"] + truth["width"]
        and truth["top"] <= y <= truth["top"] + truth["height"]
    )


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), fmt=st.sampled_from(["jpeg", "png"]))
@example(seed=14310, fmt="png")  # a hard traffic light 3 px wide
def test_easy_objects_are_found_confidently_and_hard_ones_uncertainly(seed, fmt):
    body, truth = samples.generate_image(seed, fmt)
    detections = SimulatedDetector().detect(body, CONTENT_TYPE[fmt])
    for obj in truth:
        if obj["difficulty"] == "easy":
            found = _best(detections, obj, 0.91, 0.99)
            assert found is not None, obj
            assert _iou(found, obj) >= 0.7, obj
    for d in detections:
        if d["score"] >= 0.9:
            assert any(
                t["label"] == d["id"] and t["difficulty"] == "easy" and _iou(d, t) >= 0.7 for t in truth
            ), d
        elif d["score"] >= 0.2 and d["id"] in samples.LABELS:
            # Each edge of a hard box may be 10 % off, at least a pixel: on a box 3 px wide that
            # alone cuts the overlap below any IoU bar, so ask for the centre instead.
            assert any(
                t["label"] == d["id"] and t["difficulty"] == "hard" and _centre_inside(d, t) for t in truth
            ), d


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), fmt=st.sampled_from(["jpeg", "png"]))
def test_the_answer_has_the_container_format(seed, fmt):
    body, _ = samples.generate_image(seed, fmt)
    width, height = Image.open(io.BytesIO(body)).size
    detections = SimulatedDetector().detect(body, CONTENT_TYPE[fmt])
    assert json.loads(json.dumps(detections)) == detections
    assert [d["score"] for d in detections] == sorted((d["score"] for d in detections), reverse=True)
    for d in detections:
        assert set(d) == {"id", "score", "left", "top", "right", "bottom"}
        assert all(type(d[k]) is int for k in ("left", "top", "right", "bottom"))
        assert 0 <= d["left"] < d["right"] <= width
        assert 0 <= d["top"] < d["bottom"] <= height
        assert 0.1 <= d["score"] <= 1
        assert round(d["score"], 4) == d["score"]


def test_some_hard_objects_are_missed():
    hard = found = 0
    for seed in range(150):
        body, truth = samples.generate_image(seed, "jpeg")
        detections = SimulatedDetector().detect(body, "image/jpeg")
        for obj in truth:
            if obj["difficulty"] == "hard":
                hard += 1
                found += _found(detections, obj)
    assert hard > 100
    assert 0.6 < found / hard < 0.9


def test_the_same_image_gets_the_same_answer_and_misses_survive_re_encoding():
    jpeg, truth = samples.generate_image(4242, "jpeg")
    png, _ = samples.generate_image(4242, "png")
    assert SimulatedDetector().detect(jpeg, "image/jpeg") == SimulatedDetector().detect(jpeg, "image/jpeg")

    def found_hard(body, content_type):
        detections = SimulatedDetector().detect(body, content_type)
        return [_found(detections, t) for t in truth if t["difficulty"] == "hard"]

    assert found_hard(jpeg, "image/jpeg") == found_hard(png, "image/png")


def test_the_threshold_in_custom_attributes_replaces_the_default():
    body, _ = samples.generate_image(11, "jpeg")
    model = SimulatedDetector()
    default = model.detect(body, "image/jpeg")
    everything = model.detect(body, "image/jpeg", json.dumps({"threshold": 0.0}))
    confident = model.detect(body, "image/jpeg", '{"threshold": 0.5, "other": 1}')
    assert min(d["score"] for d in everything) < 0.1
    assert default == [d for d in everything if d["score"] >= 0.1]
    assert confident == [d for d in everything if d["score"] >= 0.5]
    assert model.detect(body, "image/jpeg", "trace-id=abc") == default
    assert model.detect(body, "image/jpeg", "[0.5]") == default


@pytest.mark.parametrize("threshold", [1.5, -0.1, "0.5", True, None])
def test_a_bad_threshold_is_refused(threshold):
    with pytest.raises(ValueError, match=r"threshold .* is not a number between 0 and 1"):
        SimulatedDetector().detect(_plain("JPEG"), "image/jpeg", json.dumps({"threshold": threshold}))


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (_plain("PNG"), "image/jpeg", "is a PNG image, not the image/jpeg"),
        (_plain("JPEG"), "image/png", "is a JPEG image, not the image/png"),
        (_plain("JPEG", "red")[:300], "image/jpeg", "not a readable image/jpeg image"),
        (b"GIF89a not really", "image/png", "not a readable image/png image"),
        (b"", "image/jpeg", r"body \(0 bytes\) is not a readable"),
    ],
)
def test_a_body_that_is_not_an_image_of_its_content_type_is_refused(body, content_type, message):
    with pytest.raises(ImageDecodeError, match=message):
        SimulatedDetector().detect(body, content_type)


def test_an_unsupported_content_type_is_refused():
    with pytest.raises(UnsupportedContentTypeError, match="'application/x-image' is not supported"):
        SimulatedDetector().detect(_plain("JPEG"), "application/x-image")


def test_a_content_type_is_read_like_a_media_type():
    body = _plain("JPEG")
    assert SimulatedDetector().detect(body, "Image/JPEG; charset=binary") == SimulatedDetector().detect(
        body, "image/jpeg"
    )


def test_an_image_without_truth_gets_a_stable_answer():
    answers = [
        SimulatedDetector().detect(_plain("PNG", color), "image/png")
        for color in ("white", "black", "red", "green", "blue", "yellow", "gray", "pink")
    ]
    assert answers == [
        SimulatedDetector().detect(_plain("PNG", color), "image/png")
        for color in ("white", "black", "red", "green", "blue", "yellow", "gray", "pink")
    ]
    assert any(answers)
    assert not all(answers)
    for d in (d for answer in answers for d in answer):
        assert 0 <= d["left"] < d["right"] <= 64
        assert 0 <= d["top"] < d["bottom"] <= 48


def test_latency_is_spent_per_call(monkeypatch):
    slept = []
    monkeypatch.setattr(detector.time, "sleep", slept.append)
    SimulatedDetector(latency_seconds=0.25).detect(_plain("JPEG"), "image/jpeg")
    SimulatedDetector().detect(_plain("JPEG"), "image/jpeg")
    assert slept == [0.25]


@pytest.mark.parametrize("name", sorted(NEEDS_REVIEW))
def test_the_demo_set_has_its_designed_outcome(name):
    body = (samples.BUNDLED_DIR / name).read_bytes()
    detections = SimulatedDetector().detect(body, "image/png" if name.endswith(".png") else "image/jpeg")
    kept = [d for d in detections if d["id"] in DEMO_LABELS and d["score"] >= 0.2]
    assert any(d["score"] < 0.9 for d in kept) == NEEDS_REVIEW[name]
    for obj in samples.read_truth(body):
        if obj["label"] in DEMO_LABELS and obj["difficulty"] == "easy":
            assert _best(kept, obj, 0.9, 1) is not None, obj


def test_the_demo_set_has_a_miss_for_the_reviewer_to_add():
    body = (samples.BUNDLED_DIR / "street-08.jpg").read_bytes()
    detections = SimulatedDetector().detect(body, "image/jpeg")
    missed = [
        t
        for t in samples.read_truth(body)
        if not any(d["id"] == t["label"] and _iou(d, t) >= 0.5 for d in detections)
    ]
    assert [(t["label"], t["difficulty"]) for t in missed] == [("person", "hard")]
