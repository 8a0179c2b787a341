"""Street-scene sample images drawn by code, each carrying its own ground truth.

The truth travels inside the image as JSON (a JPEG comment starting ``hitl-truth:``, or a
PNG tEXt chunk with the key ``hitl-truth``) so that the simulated detector and the scripted
reviewer can answer from the bytes alone, wherever the image has been copied.

A truth box is ``{label, left, top, width, height, difficulty}`` in pixels, measured from the
pixels actually drawn and still visible. ``difficulty`` is ``hard`` when the object is small
(box area under 32 x 32 px, COCO's "small"), mostly hidden (under 75% of its pixels visible)
or drawn in colours close to its background; ``easy`` otherwise.

``python -m local_aws.actors.samples --out DIR --count N [--seed S]`` writes a benchmark set;
``python -m local_aws.actors.samples --bundled`` rewrites the demo set in ``include/sample_images``.
"""

from __future__ import annotations

import argparse
import io
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw
from PIL.PngImagePlugin import PngInfo

TRUTH_KEY = "hitl-truth"
_JPEG_COMMENT_PREFIX = TRUTH_KEY.encode() + b":"
FORMATS = {"jpeg": ".jpg", "png": ".png"}
BUNDLED_DIR = Path(__file__).resolve().parents[2] / "include" / "sample_images"
GROUND_TRUTH_FILE = "ground_truth.json"

_SIZES = ((640, 400), (600, 400), (560, 360), (512, 384), (480, 320))
_SMALL_AREA = 32 * 32
_MIN_VISIBLE_FRACTION = 0.75
_HIDDEN_FRACTION = 0.2
_POLE = 2.2  # a traffic light's pole, in heights of its housing
_LOW_CONTRAST = 0.25  # how much of an object's own colour survives against its background

Color = tuple[int, int, int]
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Placement:
    """One object to draw: its label, where it stands (left x, ground y) and how tall it is."""

    label: str
    left: float
    bottom: float
    height: float
    kind: str = ""  # "", "occluded" (a hedge hides its lower part) or "low-contrast"


@dataclass(frozen=True)
class Scene:
    """Everything that decides an image: size, a seed for background and colours, the objects."""

    width: int
    height: int
    seed: int
    objects: tuple[Placement, ...] = ()


class _Pen:
    """Draws each shape on the image and on the object's mask, so its truth box is measured."""

    def __init__(self, image_draw: ImageDraw.ImageDraw, mask_draw: ImageDraw.ImageDraw, tone):
        self._image, self._mask, self._tone = image_draw, mask_draw, tone

    def rect(self, xy, fill, radius=0.0):
        self._image.rounded_rectangle(xy, radius, fill=self._tone(fill))
        self._mask.rounded_rectangle(xy, radius, fill=255)

    def ellipse(self, xy, fill, outline_width=0):
        if outline_width:
            self._image.ellipse(xy, outline=self._tone(fill), width=outline_width)
            self._mask.ellipse(xy, outline=255, width=outline_width)
        else:
            self._image.ellipse(xy, fill=self._tone(fill))
            self._mask.ellipse(xy, fill=255)

    def polygon(self, points, fill):
        self._image.polygon(points, fill=self._tone(fill))
        self._mask.polygon(points, fill=255)

    def line(self, points, fill, width):
        self._image.line(points, fill=self._tone(fill), width=width)
        self._mask.line(points, fill=255, width=width)


def _draw_car(pen: _Pen, box: Box, rng: random.Random, image_draw: ImageDraw.ImageDraw) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    body = rng.choice(
        (
            (200, 30, 30),
            (30, 70, 190),
            (235, 235, 235),
            (30, 30, 35),
            (230, 200, 40),
            (170, 175, 180),
            (30, 120, 60),
        )
    )
    glass = (120, 170, 210)
    pen.polygon(
        [
            (x0 + 0.2 * w, y0 + 0.42 * h),
            (x0 + 0.32 * w, y0),
            (x0 + 0.7 * w, y0),
            (x0 + 0.86 * w, y0 + 0.42 * h),
        ],
        body,
    )
    pen.polygon(
        [
            (x0 + 0.26 * w, y0 + 0.4 * h),
            (x0 + 0.35 * w, y0 + 0.1 * h),
            (x0 + 0.49 * w, y0 + 0.1 * h),
            (x0 + 0.49 * w, y0 + 0.4 * h),
        ],
        glass,
    )
    pen.polygon(
        [
            (x0 + 0.52 * w, y0 + 0.4 * h),
            (x0 + 0.52 * w, y0 + 0.1 * h),
            (x0 + 0.68 * w, y0 + 0.1 * h),
            (x0 + 0.79 * w, y0 + 0.4 * h),
        ],
        glass,
    )
    pen.rect((x0, y0 + 0.38 * h, x1, y0 + 0.8 * h), body, radius=0.12 * h)
    pen.rect((x1 - 0.04 * w, y0 + 0.48 * h, x1, y0 + 0.58 * h), (250, 230, 120))
    pen.rect((x0, y0 + 0.48 * h, x0 + 0.03 * w, y0 + 0.58 * h), (200, 20, 20))
    for cx in (x0 + 0.2 * w, x1 - 0.2 * w):
        r = 0.2 * h
        pen.ellipse((cx - r, y1 - 2 * r, cx + r, y1), (20, 20, 20))
        pen.ellipse((cx - r / 2, y1 - 1.5 * r, cx + r / 2, y1 - r / 2), (160, 160, 160))


def _draw_bus(pen: _Pen, box: Box, rng: random.Random, image_draw: ImageDraw.ImageDraw) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    body = rng.choice(((240, 190, 20), (200, 40, 40), (40, 90, 170), (230, 230, 225)))
    pen.rect((x0, y0, x1, y1 - 0.08 * h), body, radius=0.07 * h)
    pen.rect((x1 - 0.3 * w, y0 + 0.04 * h, x1 - 0.04 * w, y0 + 0.12 * h), (20, 20, 20))
    for i in range(6):
        wx = x0 + 0.04 * w + i * 0.125 * w
        pen.rect((wx, y0 + 0.17 * h, wx + 0.1 * w, y0 + 0.5 * h), (110, 160, 200))
    pen.rect((x1 - 0.2 * w, y0 + 0.17 * h, x1 - 0.08 * w, y1 - 0.16 * h), (70, 100, 120))
    for cx in (x0 + 0.17 * w, x1 - 0.3 * w):
        r = 0.14 * h
        pen.ellipse((cx - r, y1 - 2 * r, cx + r, y1), (20, 20, 20))
        pen.ellipse((cx - r / 2, y1 - 1.5 * r, cx + r / 2, y1 - r / 2), (150, 150, 150))


def _draw_truck(pen: _Pen, box: Box, rng: random.Random, image_draw: ImageDraw.ImageDraw) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    cargo = rng.choice(((240, 240, 240), (230, 120, 30), (60, 110, 70)))
    cab = rng.choice(((40, 60, 150), (180, 30, 30), (50, 50, 55)))
    pen.rect((x0, y0, x0 + 0.68 * w, y1 - 0.15 * h), cargo)
    pen.rect((x0 + 0.7 * w, y0 + 0.3 * h, x1, y1 - 0.15 * h), cab, radius=0.05 * h)
    pen.rect((x0 + 0.78 * w, y0 + 0.36 * h, x1 - 0.04 * w, y0 + 0.56 * h), (120, 170, 210))
    for cx in (x0 + 0.14 * w, x0 + 0.32 * w, x1 - 0.14 * w):
        r = 0.15 * h
        pen.ellipse((cx - r, y1 - 2 * r, cx + r, y1), (20, 20, 20))


def _draw_person(pen: _Pen, box: Box, rng: random.Random, image_draw: ImageDraw.ImageDraw) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    cx = (x0 + x1) / 2
    skin = rng.choice(((240, 200, 170), (200, 150, 110), (140, 95, 65), (90, 60, 40)))
    shirt = rng.choice(((200, 40, 40), (40, 100, 200), (250, 250, 250), (40, 160, 80), (240, 170, 30)))
    trousers = rng.choice(((30, 40, 80), (25, 25, 25), (150, 130, 90)))
    limb = max(1, round(0.2 * w))
    pen.line([(cx - 0.12 * w, y0 + 0.52 * h), (x0 + 0.22 * w, y1 - limb / 2)], trousers, limb)
    pen.line([(cx + 0.12 * w, y0 + 0.52 * h), (x1 - 0.22 * w, y1 - limb / 2)], trousers, limb)
    pen.line([(x0 + 0.22 * w, y0 + 0.24 * h), (x0 + limb / 2, y0 + 0.5 * h)], shirt, limb)
    pen.line([(x1 - 0.22 * w, y0 + 0.24 * h), (x1 - limb / 2, y0 + 0.5 * h)], shirt, limb)
    pen.rect((x0 + 0.18 * w, y0 + 0.19 * h, x1 - 0.18 * w, y0 + 0.56 * h), shirt, radius=0.1 * w)
    pen.ellipse((cx - 0.26 * w, y0, cx + 0.26 * w, y0 + 0.18 * h), skin)


def _draw_bicycle(pen: _Pen, box: Box, rng: random.Random, image_draw: ImageDraw.ImageDraw) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    frame = rng.choice(((200, 30, 30), (30, 30, 30), (30, 90, 190), (20, 140, 120)))
    r = 0.33 * h
    tyre = max(1, round(0.06 * h))
    rear, front = (x0 + r, y1 - r), (x1 - r, y1 - r)
    pen.ellipse((x0, y1 - 2 * r, x0 + 2 * r, y1), (25, 25, 25), tyre)
    pen.ellipse((x1 - 2 * r, y1 - 2 * r, x1, y1), (25, 25, 25), tyre)
    seat, crank, head = (x0 + 0.4 * w, y0 + 0.22 * h), (x0 + 0.47 * w, y1 - r), (x1 - 0.3 * w, y0 + 0.2 * h)
    stroke = max(1, round(0.05 * h))
    pen.line([rear, seat, crank, rear], frame, stroke)
    pen.line([seat, head, crank], frame, stroke)
    pen.line([head, front], frame, stroke)
    pen.line([(x0 + 0.33 * w, y0 + 0.16 * h), (x0 + 0.47 * w, y0 + 0.16 * h)], (20, 20, 20), stroke * 2)
    pen.line([head, (x1 - 0.27 * w, y0), (x1 - 0.18 * w, y0)], (20, 20, 20), stroke)


def _draw_dog(pen: _Pen, box: Box, rng: random.Random, image_draw: ImageDraw.ImageDraw) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    fur = rng.choice(((140, 90, 45), (30, 25, 20), (215, 170, 90), (235, 230, 220)))
    leg = max(1, round(0.09 * w))
    for lx in (x0 + 0.22 * w, x0 + 0.34 * w, x1 - 0.36 * w, x1 - 0.25 * w):
        pen.line([(lx, y0 + 0.55 * h), (lx, y1)], fur, leg)
    pen.line([(x0 + 0.18 * w, y0 + 0.45 * h), (x0, y0 + 0.15 * h)], fur, leg)
    pen.ellipse((x0 + 0.12 * w, y0 + 0.3 * h, x1 - 0.18 * w, y0 + 0.72 * h), fur)
    pen.ellipse((x1 - 0.32 * w, y0 + 0.06 * h, x1 - 0.04 * w, y0 + 0.42 * h), fur)
    pen.polygon([(x1 - 0.12 * w, y0 + 0.18 * h), (x1, y0 + 0.26 * h), (x1 - 0.1 * w, y0 + 0.34 * h)], fur)
    pen.polygon(
        [(x1 - 0.3 * w, y0 + 0.12 * h), (x1 - 0.24 * w, y0), (x1 - 0.18 * w, y0 + 0.1 * h)], (60, 40, 25)
    )


def _draw_traffic_light(pen: _Pen, box: Box, rng: random.Random, image_draw: ImageDraw.ImageDraw) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    image_draw.rectangle(((x0 + x1) / 2 - 0.1 * w, y1, (x0 + x1) / 2 + 0.1 * w, y1 + _POLE * h), (90, 95, 90))
    pen.rect(box, (25, 25, 25), radius=0.2 * w)
    lit = rng.randrange(3)
    for i, (on, off) in enumerate(
        (((255, 40, 40), (90, 20, 20)), ((255, 190, 0), (90, 70, 10)), ((40, 230, 90), (15, 80, 35)))
    ):
        cy = y0 + (i + 0.5) * h / 3
        r = 0.3 * w
        pen.ellipse(((x0 + x1) / 2 - r, cy - r, (x0 + x1) / 2 + r, cy + r), on if i == lit else off)


# label -> (drawing, width / height, height as a fraction of the image height at the bottom edge)
_OBJECTS: dict[str, tuple[Callable[..., None], float, float]] = {
    "car": (_draw_car, 2.3, 0.36),
    "bus": (_draw_bus, 2.8, 0.62),
    "truck": (_draw_truck, 2.2, 0.5),
    "person": (_draw_person, 0.4, 0.48),
    "bicycle": (_draw_bicycle, 1.7, 0.3),
    "dog": (_draw_dog, 1.4, 0.16),
    "traffic light": (_draw_traffic_light, 0.38, 0.14),
}
LABELS = tuple(_OBJECTS)


def _horizon(height: int) -> float:
    return 0.5 * height


def _draw_background(image: Image.Image, rng: random.Random) -> None:
    """Sky, a row of buildings with windows, a pavement and a road with lane marks."""
    draw = ImageDraw.Draw(image)
    w, h = image.size
    horizon, kerb = _horizon(h), 0.58 * h
    top, bottom = rng.choice(
        (
            ((90, 150, 220), (190, 215, 240)),
            ((150, 155, 165), (205, 205, 210)),
            ((60, 70, 130), (240, 160, 110)),
        )
    )
    for y in range(int(horizon) + 1):
        t = y / horizon
        draw.line(
            [(0, y), (w, y)], fill=tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        )
    x = -rng.uniform(0, 40)
    while x < w:
        bw = rng.uniform(0.12, 0.24) * w
        btop = rng.uniform(0.12, 0.38) * h
        wall = rng.choice(((150, 80, 60), (200, 185, 150), (120, 120, 125), (90, 105, 125), (175, 160, 140)))
        draw.rectangle((x, btop, x + bw, kerb), fill=wall)
        pane = (60, 70, 90) if rng.random() < 0.7 else (230, 210, 140)
        for wy in range(int(btop + 8), int(kerb - 16), 16):
            for wx in range(int(x + 6), int(x + bw - 10), 14):
                draw.rectangle((wx, wy, wx + 7, wy + 9), fill=pane)
        x += bw + rng.uniform(0, 12)
    draw.rectangle((0, kerb - 0.06 * h, w, kerb), fill=(185, 182, 175))
    draw.rectangle((0, kerb, w, h), fill=(85, 87, 92))
    draw.line([(0, kerb), (w, kerb)], fill=(215, 212, 205), width=2)
    lane = 0.78 * h
    for lx in range(int(-rng.uniform(0, 60)), w, 70):
        draw.rectangle((lx, lane, lx + 38, lane + 0.012 * h + 1), fill=(235, 235, 225))


def _draw_hedge(
    image_draw: ImageDraw.ImageDraw, mask_draw: ImageDraw.ImageDraw, box: Box, rng: random.Random
) -> None:
    """Foliage in front of the lower part of an object: the occluder of an "occluded" placement."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    top = y1 - rng.uniform(0.5, 0.62) * h
    hedge = (x0 - 0.12 * w, top, x1 + 0.12 * w, y1 + 2)
    for draw, fill in ((image_draw, (45, 110, 45)), (mask_draw, 255)):
        draw.rounded_rectangle(hedge, radius=min(w, h) * 0.15, fill=fill)
    for i in range(max(3, int(w / 12))):
        cx = hedge[0] + (i + 0.5) * (hedge[2] - hedge[0]) / max(3, int(w / 12))
        r = rng.uniform(0.05, 0.1) * h + 2
        for draw, fill in ((image_draw, (60, 135, 55)), (mask_draw, 255)):
            draw.ellipse((cx - r, top - r * 0.6, cx + r, top + r * 1.4), fill=fill)


def _box_of(placement: Placement) -> Box:
    aspect = _OBJECTS[placement.label][1]
    return (
        placement.left,
        placement.bottom - placement.height,
        placement.left + placement.height * aspect,
        placement.bottom,
    )


def _pixels(mask: Image.Image) -> int:
    return mask.histogram()[255]


def render(scene: Scene) -> tuple[Image.Image, list[dict]]:
    """Draws a scene far to near and measures each object's visible box and difficulty."""
    rng = random.Random(scene.seed)
    size = (scene.width, scene.height)
    image = Image.new("RGB", size)
    _draw_background(image, rng)
    image_draw = ImageDraw.Draw(image)
    layers: list[tuple[Placement | None, Image.Image]] = []
    for placement in sorted(scene.objects, key=lambda p: p.bottom):
        box = _box_of(placement)
        centre = (
            min(max(int((box[0] + box[2]) / 2), 0), scene.width - 1),
            min(max(int((box[1] + box[3]) / 2), 0), scene.height - 1),
        )
        background = image.getpixel(centre)

        def tone(color: Color, background=background, low=placement.kind == "low-contrast") -> Color:
            if not low:
                return color
            return tuple(round(b + (c - b) * _LOW_CONTRAST) for c, b in zip(color, background, strict=True))

        mask = Image.new("L", size, 0)
        _OBJECTS[placement.label][0](_Pen(image_draw, ImageDraw.Draw(mask), tone), box, rng, image_draw)
        layers.append((placement, mask))
        if placement.kind == "occluded":
            hedge = Image.new("L", size, 0)
            _draw_hedge(image_draw, ImageDraw.Draw(hedge), box, rng)
            layers.append((None, hedge))
    covered = Image.new("L", size, 0)
    truth = []
    for placement, mask in reversed(layers):
        if placement is not None:
            visible = ImageChops.subtract(mask, covered)
            drawn, seen = _pixels(mask), _pixels(visible)
            bbox = visible.getbbox()
            if drawn and bbox and seen / drawn >= _HIDDEN_FRACTION:
                left, top, right, bottom = bbox
                small = (right - left) * (bottom - top) < _SMALL_AREA
                hard = small or seen / drawn < _MIN_VISIBLE_FRACTION or placement.kind == "low-contrast"
                truth.append(
                    {
                        "label": placement.label,
                        "left": left,
                        "top": top,
                        "width": right - left,
                        "height": bottom - top,
                        "difficulty": "hard" if hard else "easy",
                    }
                )
        covered = ImageChops.lighter(covered, mask)
    truth.sort(key=lambda t: (t["left"], t["top"], t["label"]))
    return image, truth


def encode(image: Image.Image, truth: list[dict], fmt: str) -> bytes:
    """Encodes the image with its truth embedded (JPEG comment or PNG tEXt chunk)."""
    payload = json.dumps(truth, separators=(",", ":"))
    out = io.BytesIO()
    if fmt == "jpeg":
        image.save(out, "JPEG", quality=85, comment=_JPEG_COMMENT_PREFIX + payload.encode())
    elif fmt == "png":
        info = PngInfo()
        info.add_text(TRUTH_KEY, payload)
        image.save(out, "PNG", pnginfo=info)
    else:
        raise ValueError(f"image format {fmt!r} is not one of {sorted(FORMATS)}")
    return out.getvalue()


def random_scene(seed: int, size: tuple[int, int] | None = None) -> Scene:
    """A plausible street for a seed: a few objects standing on the ground, nearer means bigger."""
    rng = random.Random(f"scene-{seed}")
    width, height = size or rng.choice(_SIZES)
    horizon = _horizon(height)
    objects = []
    for _ in range(rng.choice((0, 1, 2, 2, 3, 3, 4, 4, 5, 6))):
        label = rng.choices(LABELS, weights=(5, 1, 1, 5, 2, 1, 1))[0]
        aspect, scale = _OBJECTS[label][1:]
        bottom = rng.uniform(0.54, 0.99) * height
        object_height = scale * height * (bottom - horizon) / (height - horizon)
        object_height = min(object_height, 0.95 * width / aspect)
        left = rng.uniform(0, width - object_height * aspect)
        if label == "traffic light":
            bottom -= _POLE * object_height
        kind = rng.choices(("", "occluded", "low-contrast"), weights=(7, 2, 1))[0]
        objects.append(Placement(label, left, bottom, object_height, kind))
    return Scene(width, height, seed, tuple(objects))


def generate_image(
    seed: int, fmt: str = "jpeg", size: tuple[int, int] | None = None
) -> tuple[bytes, list[dict]]:
    """The image of a seed, encoded, and its truth: the same bytes for a seed on one Pillow build."""
    if fmt not in FORMATS:
        raise ValueError(f"image format {fmt!r} is not one of {sorted(FORMATS)}")
    image, truth = render(random_scene(seed, size))
    return encode(image, truth, fmt), truth


def read_truth(image_bytes: bytes) -> list[dict] | None:
    """The truth embedded by `encode`, or None when the bytes are not an image or carry none."""
    try:
        with Image.open(io.BytesIO(image_bytes)) as image:
            info = dict(image.info)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
    raw = info.get(TRUTH_KEY)
    comment = info.get("comment")
    if raw is None and isinstance(comment, bytes) and comment.startswith(_JPEG_COMMENT_PREFIX):
        raw = comment[len(_JPEG_COMMENT_PREFIX) :].decode()
    if raw is None:
        return None
    try:
        truth = json.loads(raw)
    except json.JSONDecodeError:
        return None
    return truth if isinstance(truth, list) else None


def _write_set(directory: Path, named: Sequence[tuple[str, bytes, list[dict]]]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, body, _ in named:
        path = directory / name
        path.write_bytes(body)
        paths.append(path)
    truth = {name: boxes for name, _, boxes in named}
    (directory / GROUND_TRUTH_FILE).write_text(json.dumps(truth, indent=1) + "\n")
    return paths


def write_sample_set(
    directory: str | Path,
    count: int,
    *,
    start_seed: int = 0,
    formats: Sequence[str] = ("jpeg", "jpeg", "jpeg", "jpeg", "png"),
) -> list[Path]:
    """Writes `count` seeded images (formats cycled) and a ground_truth.json beside them."""
    named = []
    for index in range(count):
        seed = start_seed + index
        fmt = formats[index % len(formats)]
        body, truth = generate_image(seed, fmt)
        named.append((f"sample-{seed:06d}{FORMATS[fmt]}", body, truth))
    return _write_set(Path(directory), named)


def _bundled_scenes() -> list[tuple[str, Scene]]:
    """The demo set, designed for labels car/person/bicycle/bus at threshold 0.9 and min_score 0.2.

    See local_aws.endpoint.detector for what the simulated model answers on each image and why.
    """
    P = Placement
    # fmt: off
    return [
        ("street-01.jpg", Scene(640, 400, 101, (P("car", 20, 330, 100), P("car", 300, 385, 105),
                                                 P("person", 565, 335, 150)))),
        ("street-02.jpg", Scene(640, 400, 102, (P("bus", 60, 320, 150), P("bicycle", 482, 385, 90)))),
        ("street-03.jpg", Scene(640, 400, 103, (P("person", 60, 330, 170), P("person", 180, 320, 150),
                                                 P("dog", 260, 345, 50), P("car", 380, 385, 110),
                                                 P("traffic light", 590, 170, 60)))),
        ("street-04.jpg", Scene(640, 400, 104, (P("car", 30, 360, 110), P("person", 400, 340, 160),
                                                 P("person", 600, 212, 22)))),
        ("street-05.jpg", Scene(640, 400, 105, (P("person", 120, 320, 150, "occluded"),
                                                 P("car", 330, 385, 120)))),
        ("street-06.png", Scene(640, 400, 106, (P("bus", 30, 300, 130),
                                                 P("car", 370, 390, 110, "low-contrast")))),
        ("street-07.jpg", Scene(640, 400, 107, (P("bicycle", 60, 380, 100, "occluded"),
                                                 P("person", 260, 330, 150), P("car", 360, 360, 110)))),
        ("street-08.jpg", Scene(640, 400, 108, (P("car", 30, 215, 12), P("person", 517, 215, 26),
                                                 P("bicycle", 40, 330, 80), P("truck", 300, 340, 140)))),
        ("street-09.jpg", Scene(640, 400, 109, (P("person", 80, 340, 150, "low-contrast"),
                                                 P("person", 300, 330, 150, "occluded"),
                                                 P("car", 400, 385, 100)))),
        ("street-10.jpg", Scene(640, 400, 110, (P("dog", 150, 330, 60), P("traffic light", 420, 160, 60),
                                                 P("truck", 300, 390, 120, "low-contrast")))),
        ("street-11.png", Scene(640, 400, 111)),
        ("street-12.jpg", Scene(640, 400, 112, (P("car", 20, 214, 14),
                                                 P("bicycle", 80, 370, 85, "low-contrast"),
                                                 P("bus", 280, 330, 120)))),
    ]
    # fmt: on


def write_bundled_samples(directory: str | Path = BUNDLED_DIR) -> list[Path]:
    """Rewrites the committed demo set: its images and their ground_truth.json."""
    named = []
    for name, scene in _bundled_scenes():
        image, truth = render(scene)
        named.append((name, encode(image, truth, "png" if name.endswith(".png") else "jpeg"), truth))
    return _write_set(Path(directory), named)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m local_aws.actors.samples", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", type=Path, help="directory to write the images and ground_truth.json to")
    parser.add_argument("--count", type=int, default=100, help="number of images (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first image (default 0)")
    parser.add_argument(
        "--bundled", action="store_true", help="write the demo set (to include/sample_images)"
    )
    args = parser.parse_args(argv)
    if args.bundled:
        paths = write_bundled_samples(args.out or BUNDLED_DIR)
    elif args.out is None:
        parser.error("--out is required unless --bundled is given")
    else:
        paths = write_sample_set(args.out, args.count, start_seed=args.seed)
    print(f"wrote {len(paths)} images and {GROUND_TRUTH_FILE} to {paths[0].parent if paths else args.out}")


if __name__ == "__main__":
    main()
