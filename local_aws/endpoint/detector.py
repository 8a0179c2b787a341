"""A deterministic stand-in for the GluonCV SSD detector of AWS Marketplace.

It answers in the container's format (a JSON list of ``{id, score, left, top, right, bottom}``,
integer pixels of the original image, clipped to it, boxes under 0.1 dropped unless
``CustomAttributes`` carries ``{"threshold": x}``) and makes the mistakes of a real detector,
read off the ground truth that ``local_aws.actors.samples`` embeds in each image:

- an easy object is found with its own label, scored 0.91-0.99, each edge off by up to 5% of
  the box side (1-3 px): always accepted at threshold 0.9;
- a hard object is missed one time in four; otherwise it is found with its own label, scored
  0.30-0.85, each edge off by up to 10% of the box side (at least 1 px): always uncertain at
  0.9 / 0.2;
- a found object sometimes gets a second, shifted box of its label scored 0.10-0.19 (what
  non-maximum suppression leaves behind): noise under min_score 0.2;
- up to two false positives of street clutter (fire hydrant, bench, handbag, ... never a demo
  label) scored 0.10-0.50, and a few boxes under 0.1 seen only with a lower threshold.

Which hard objects are missed is seeded by the image's truth, everything else by
sha256(body): the demo outcome below depends on the truth alone, so it survives a re-encoding
of the images by another Pillow build. An image without truth gets 0-3 boxes seeded by its hash.

So with labels car/person/bicycle/bus, threshold 0.9 and min_score 0.2, an image goes to review
exactly when a hard object of one of those labels is found. For the bundled set
(``include/sample_images``):

============  ========  =========================================================================
image         outcome   why
============  ========  =========================================================================
street-01     accepted  two cars and a person, all easy
street-02     accepted  a bus and a bicycle, easy
street-03     accepted  two persons and a car, easy; a dog and a traffic light dropped by labels
street-04     review    a far-away person (8 x 22 px) beside an easy car and person
street-05     review    a person behind a hedge, only head and shoulders visible
street-06     review    a grey car on the grey road (low contrast) beside an easy bus
street-07     review    a bicycle behind a hedge beside an easy person and car
street-08     review    a tiny far-away car found; a tiny person missed: the reviewer adds it
street-09     review    a dim person and a person behind a hedge
street-10     accepted  nothing of the run's labels: a dog and a traffic light; a dim truck missed
street-11     accepted  an empty street: at most clutter false positives, dropped by labels
street-12     review    a dim bicycle and a tiny car beside an easy bus
============  ========  =========================================================================
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import time

from PIL import Image

from local_aws.actors.samples import read_truth

DEFAULT_THRESHOLD = 0.1
CONTENT_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG"}
_CLUTTER = ("fire hydrant", "bench", "potted plant", "handbag", "umbrella", "backpack", "stop sign", "kite")
_GUESSES = ("person", "car", "bicycle", "bus", "truck", "dog", "chair", "bird", "bottle", "tv")
_MISS_RATE = 0.25
_DUPLICATE_RATE = 0.3


class ImageDecodeError(ValueError):
    """The body is not a readable image of the declared content type (the container's 400)."""


class UnsupportedContentTypeError(ValueError):
    """The content type is neither image/jpeg nor image/png (the container's 415)."""


def _decode(body: bytes, content_type: str) -> tuple[int, int]:
    """Decodes the whole image, so that truncated or corrupt bytes fail here, and returns its size."""
    media_type = content_type.split(";")[0].strip().lower()
    expected = CONTENT_TYPES.get(media_type)
    if expected is None:
        raise UnsupportedContentTypeError(
            f"content type {content_type!r} is not supported: expected one of {sorted(CONTENT_TYPES)}"
        )
    try:
        with Image.open(io.BytesIO(body)) as image:
            found = image.format
            image.load()
            size = image.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise ImageDecodeError(
            f"the body ({len(body)} bytes) is not a readable {media_type} image: {error}"
        ) from error
    if found != expected:
        raise ImageDecodeError(f"the body is a {found} image, not the {media_type} its content type says")
    return size


def _threshold(custom_attributes: str | None) -> float:
    """The container's score cut-off: CustomAttributes {"threshold": x} when present, else 0.1."""
    try:
        attributes = json.loads(custom_attributes) if custom_attributes else None
    except json.JSONDecodeError:
        return DEFAULT_THRESHOLD
    if not isinstance(attributes, dict) or "threshold" not in attributes:
        return DEFAULT_THRESHOLD
    value = attributes["threshold"]
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"CustomAttributes threshold {value!r} is not a number between 0 and 1")
    return float(value)


def _detection(
    label: str, score: float, box: tuple[float, float, float, float], width: int, height: int
) -> dict:
    left, top, right, bottom = (round(v) for v in box)
    left, right = min(max(left, 0), width - 1), min(max(right, 1), width)
    top, bottom = min(max(top, 0), height - 1), min(max(bottom, 1), height)
    return {
        "id": label,
        "score": round(score, 4),
        "left": left,
        "top": top,
        "right": max(right, left + 1),
        "bottom": max(bottom, top + 1),
    }


def _jittered(truth: dict, rng: random.Random, fraction: float, cap: float) -> tuple[float, ...]:
    dx = min(cap, max(1.0, fraction * truth["width"]))
    dy = min(cap, max(1.0, fraction * truth["height"]))
    return (
        truth["left"] + rng.randint(-int(dx), int(dx)),
        truth["top"] + rng.randint(-int(dy), int(dy)),
        truth["left"] + truth["width"] + rng.randint(-int(dx), int(dx)),
        truth["top"] + truth["height"] + rng.randint(-int(dy), int(dy)),
    )


def _random_box(rng: random.Random, width: int, height: int) -> tuple[float, ...]:
    w, h = rng.uniform(0.04, 0.3) * width, rng.uniform(0.05, 0.35) * height
    left, top = rng.uniform(0, width - w), rng.uniform(0.3 * height, height - h)
    return left, top, left + w, top + h


def _from_truth(truth: list[dict], rng: random.Random, width: int, height: int) -> list[dict]:
    truth_seed = hashlib.sha256(json.dumps(truth, sort_keys=True).encode()).digest()
    misses = random.Random(truth_seed)
    found = []
    for obj in truth:
        if obj["difficulty"] == "easy":
            box, score = _jittered(obj, rng, 0.05, 3), rng.uniform(0.91, 0.99)
        elif misses.random() < _MISS_RATE:
            continue
        else:
            box, score = _jittered(obj, rng, 0.1, float("inf")), rng.uniform(0.30, 0.85)
        found.append(_detection(obj["label"], score, box, width, height))
        if rng.random() < _DUPLICATE_RATE:
            shifted = _jittered(obj, rng, 0.3, float("inf"))
            found.append(_detection(obj["label"], rng.uniform(0.10, 0.1999), shifted, width, height))
    for _ in range(rng.choice((0, 0, 1, 1, 2))):
        found.append(
            _detection(
                rng.choice(_CLUTTER), rng.uniform(0.10, 0.50), _random_box(rng, width, height), width, height
            )
        )
    for _ in range(rng.randint(1, 4)):
        found.append(
            _detection(
                rng.choice(_CLUTTER + _GUESSES),
                rng.uniform(0.01, 0.0999),
                _random_box(rng, width, height),
                width,
                height,
            )
        )
    return found


def _guessed(rng: random.Random, width: int, height: int) -> list[dict]:
    return [
        _detection(
            rng.choice(_GUESSES), rng.uniform(0.05, 0.8), _random_box(rng, width, height), width, height
        )
        for _ in range(rng.randint(0, 3))
    ]


class SimulatedDetector:
    """Answers InvokeEndpoint like the GluonCV SSD container, from the truth inside each image."""

    def __init__(self, latency_seconds: float = 0.0):
        self.latency_seconds = latency_seconds

    def detect(self, body: bytes, content_type: str, custom_attributes: str | None = None) -> list[dict]:
        """The detections for one image, best first; raises ImageDecodeError for a bad body."""
        threshold = _threshold(custom_attributes)
        width, height = _decode(body, content_type)
        if self.latency_seconds:
            time.sleep(self.latency_seconds)
        rng = random.Random(hashlib.sha256(body).digest())
        truth = read_truth(body)
        found = _guessed(rng, width, height) if truth is None else _from_truth(truth, rng, width, height)
        return sorted((d for d in found if d["score"] >= threshold), key=lambda d: -d["score"])
