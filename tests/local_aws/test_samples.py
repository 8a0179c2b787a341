"""The sample images: deterministic, honest ground truth embedded in the bytes, and the demo set."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops
from PIL.PngImagePlugin import PngInfo

from local_aws.actors import samples
from local_aws.actors.samples import Placement, Scene

DEMO_LABELS = {"car", "person", "bicycle", "bus"}


def _encoded(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_an_image_is_the_same_bytes_every_time(fmt):
    first = samples.generate_image(7, fmt)
    assert samples.generate_image(7, fmt) == first
    assert samples.generate_image(8, fmt)[0] != first[0]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), fmt=st.sampled_from(["jpeg", "png"]))
def test_the_truth_travels_inside_the_image_and_describes_it(seed, fmt):
    body, truth = samples.generate_image(seed, fmt)
    assert samples.read_truth(body) == truth
    with Image.open(io.BytesIO(body)) as image:
        assert image.format == fmt.upper()
        width, height = image.size
    for box in truth:
        assert set(box) == {"label", "left", "top", "width", "height", "difficulty"}
        assert box["label"] in samples.LABELS
        assert box["difficulty"] in {"easy", "hard"}
        assert box["width"] > 0
        assert box["height"] > 0
        assert box["left"] >= 0
        assert box["left"] + box["width"] <= width
        assert box["top"] >= 0
        assert box["top"] + box["height"] <= height
        if box["width"] * box["height"] < 32 * 32:
            assert box["difficulty"] == "hard", box


def test_a_requested_size_is_kept():
    body, _ = samples.generate_image(3, "png", size=(500, 333))
    assert Image.open(io.BytesIO(body)).size == (500, 333)


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="'gif' is not one of"):
        samples.generate_image(1, "gif")


@pytest.mark.parametrize("label", ["car", "bus", "truck", "person", "bicycle", "dog"])
def test_a_truth_box_is_exactly_the_pixels_drawn(label):
    empty, _ = samples.render(Scene(640, 400, 5))
    drawn, truth = samples.render(Scene(640, 400, 5, (Placement(label, 150, 380, 120),)))
    (box,) = truth
    assert box["difficulty"] == "easy"
    changed = ImageChops.difference(empty, drawn).getbbox()
    assert changed == (box["left"], box["top"], box["left"] + box["width"], box["top"] + box["height"])


def test_an_object_behind_a_hedge_is_hard_and_boxed_where_visible():
    _, (clear,) = samples.render(Scene(640, 400, 5, (Placement("person", 200, 350, 150),)))
    _, (hidden,) = samples.render(Scene(640, 400, 5, (Placement("person", 200, 350, 150, "occluded"),)))
    assert (clear["difficulty"], hidden["difficulty"]) == ("easy", "hard")
    assert hidden["top"] == clear["top"]
    assert hidden["height"] < 0.6 * clear["height"]


def test_a_low_contrast_object_is_hard_and_drawn_dimmer():
    plain, (clear,) = samples.render(Scene(640, 400, 5, (Placement("car", 200, 380, 100),)))
    dim, (faint,) = samples.render(Scene(640, 400, 5, (Placement("car", 200, 380, 100, "low-contrast"),)))
    empty, _ = samples.render(Scene(640, 400, 5))
    assert (clear["difficulty"], faint["difficulty"]) == ("easy", "hard")

    def contrast(image):
        return sum(ImageChops.difference(empty, image).convert("L").histogram()[i] * i for i in range(256))

    assert contrast(dim) < contrast(plain) / 2


def test_no_truth_is_read_from_other_bytes():
    plain = Image.new("RGB", (40, 30), "white")
    other_text = PngInfo()
    other_text.add_text("Software", "something else")
    broken = PngInfo()
    broken.add_text(samples.TRUTH_KEY, "{not json")
    assert samples.read_truth(b"not an image at all") is None
    assert samples.read_truth(_encoded(plain, "JPEG")) is None
    assert samples.read_truth(_encoded(plain, "JPEG", comment=b"shot on a phone")) is None
    assert samples.read_truth(_encoded(plain, "PNG", pnginfo=other_text)) is None
    assert samples.read_truth(_encoded(plain, "PNG", pnginfo=broken)) is None


def test_a_sample_set_has_its_images_and_their_ground_truth(tmp_path):
    paths = samples.write_sample_set(tmp_path, 6, start_seed=40, formats=("jpeg", "png"))
    assert [p.name for p in paths] == [
        f"sample-0000{40 + i}.{'jpg' if i % 2 == 0 else 'png'}" for i in range(6)
    ]
    ground_truth = json.loads((tmp_path / samples.GROUND_TRUTH_FILE).read_text())
    assert ground_truth == {p.name: samples.read_truth(p.read_bytes()) for p in paths}
    assert paths[0].read_bytes() == samples.generate_image(40, "jpeg")[0]


def test_the_command_line_writes_a_benchmark_set(tmp_path, capsys):
    samples.main(["--out", str(tmp_path), "--count", "3", "--seed", "9"])
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ground_truth.json",
        "sample-000009.jpg",
        "sample-000010.jpg",
        "sample-000011.jpg",
    ]
    assert "wrote 3 images" in capsys.readouterr().out


def test_the_command_line_needs_a_directory():
    with pytest.raises(SystemExit):
        samples.main(["--count", "3"])


def _committed():
    return sorted(p for p in samples.BUNDLED_DIR.iterdir() if p.name != samples.GROUND_TRUTH_FILE)


def test_the_committed_demo_set_is_what_the_code_draws(tmp_path):
    """Truth must match exactly; pixels closely, since JPEG bytes may differ between Pillow builds."""
    fresh = {p.name: p for p in samples.write_bundled_samples(tmp_path)}
    committed = _committed()
    assert [p.name for p in committed] == sorted(fresh)
    ground_truth = json.loads((samples.BUNDLED_DIR / samples.GROUND_TRUTH_FILE).read_text())
    assert ground_truth == json.loads((tmp_path / samples.GROUND_TRUTH_FILE).read_text())
    for path in committed:
        assert samples.read_truth(path.read_bytes()) == ground_truth[path.name], path.name
        old, new = Image.open(path).convert("RGB"), Image.open(fresh[path.name]).convert("RGB")
        worst = max(high for _, high in ImageChops.difference(old, new).getextrema())
        assert worst <= (0 if path.suffix == ".png" else 48), path.name


def test_the_demo_set_covers_every_outcome():
    ground_truth = json.loads((samples.BUNDLED_DIR / samples.GROUND_TRUTH_FILE).read_text())
    committed = _committed()
    assert len(committed) == 12
    assert sum(p.suffix == ".png" for p in committed) == 2
    for path in committed:
        assert Image.open(path).size == (640, 400)
        assert path.stat().st_size < 60_000, path.name

    def demo(boxes):
        return [b for b in boxes if b["label"] in DEMO_LABELS]

    kinds = {
        "empty": [n for n, b in ground_truth.items() if not b],
        "other classes only": [n for n, b in ground_truth.items() if b and not demo(b)],
        "all easy": [
            n for n, b in ground_truth.items() if demo(b) and all(x["difficulty"] == "easy" for x in demo(b))
        ],
        "some hard": [n for n, b in ground_truth.items() if any(x["difficulty"] == "hard" for x in demo(b))],
    }
    assert {kind: len(names) for kind, names in kinds.items()} == {
        "empty": 1,
        "other classes only": 1,
        "all easy": 3,
        "some hard": 7,
    }
