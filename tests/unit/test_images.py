import io
import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from hitl_detection.domain.images import (
    IMAGE_CONTENT_TYPES,
    MAX_REALTIME_PAYLOAD_BYTES,
    ImageError,
    TruncatedImageError,
    check_payload_size,
    content_type_for,
    image_size,
    is_image_key,
)


def encode(size=(37, 23), fmt="JPEG", mode="RGB", **options) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, color=0).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png_chunk(chunk_type: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + chunk_type + body + struct.pack(">I", zlib.crc32(chunk_type + body))


def png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)


def jpeg(*segments: bytes) -> bytes:
    return b"\xff\xd8" + b"".join(segments)


def segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body


def sof(marker: int = 0xC0, width: int = 5, height: int = 7) -> bytes:
    return segment(marker, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00")


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("images/cat.jpg", "image/jpeg"),
        ("images/cat.JPEG", "image/jpeg"),
        ("cat.Png", "image/png"),
        ("a.b/cat.tar.png", "image/png"),
        ("images/cat.gif", None),
        ("images/README", None),
        ("images.jpg/", None),
        ("images.jpg/notes", None),
        ("", None),
    ],
)
def test_content_type_for(key, expected):
    assert content_type_for(key) == expected
    assert is_image_key(key) is (expected is not None)


def test_content_types_cover_jpeg_and_png_only():
    assert set(IMAGE_CONTENT_TYPES.values()) == {"image/jpeg", "image/png"}


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (encode(), "image/jpeg"),
        (encode(progressive=True), "image/jpeg"),
        (encode(mode="L", quality=20), "image/jpeg"),
        (encode(mode="CMYK"), "image/jpeg"),
        (encode(icc_profile=b"\x00" * 70_000, comment=b"hello"), "image/jpeg"),  # multi-segment APP2
        (encode(fmt="PNG"), "image/png"),
        (encode(fmt="PNG", mode="RGBA"), "image/png"),
        (encode(fmt="PNG", mode="P"), "image/png"),
    ],
)
def test_reads_size_from_real_images(data, content_type):
    assert image_size(data, content_type) == (37, 23)


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(
    width=st.integers(1, 400),
    height=st.integers(1, 400),
    fmt=st.sampled_from(["JPEG", "JPEG-progressive", "PNG"]),
)
def test_size_matches_pillow(width, height, fmt):
    if fmt == "PNG":
        data, content_type = encode((width, height), "PNG"), "image/png"
    else:
        data, content_type = encode((width, height), progressive=fmt.endswith("progressive")), "image/jpeg"
    assert image_size(data, content_type) == (width, height)


def test_skips_segments_that_contain_frame_header_bytes():
    real = encode()
    decoy = segment(0xE1, b"Exif\x00\x00" + sof(width=1, height=1))  # e.g. an EXIF thumbnail
    assert image_size(real[:2] + decoy + real[2:], "image/jpeg") == (37, 23)


def test_skips_fill_bytes_and_standalone_markers():
    data = jpeg(b"\xff\x01", b"\xff\xd0", b"\xff\xff\xff", sof(0xC2, width=640, height=480)[1:])
    assert image_size(data, "image/jpeg") == (640, 480)


@pytest.mark.parametrize("marker", [0xC1, 0xC3, 0xC9, 0xCF])
def test_reads_other_frame_types(marker):
    assert image_size(jpeg(segment(0xDB, b"\x00" * 65), sof(marker)), "image/jpeg") == (5, 7)


def test_png_bytes_under_a_jpeg_name():
    with pytest.raises(
        ImageError, match=r"not a JPEG: starts with 89 50 4e 47 0d 0a 1a 0a \(a PNG signature\)"
    ):
        image_size(encode(fmt="PNG"), "image/jpeg")


def test_jpeg_bytes_under_a_png_name():
    with pytest.raises(ImageError, match=r"not a PNG: starts with ff d8 .*\(a JPEG start-of-image marker\)"):
        image_size(encode(), "image/png")


@pytest.mark.parametrize("content_type", ["image/jpeg", "image/png"])
def test_empty_data(content_type):
    with pytest.raises(ImageError, match=r"is empty \(0 bytes\)"):
        image_size(b"", content_type)


def test_unknown_bytes():
    with pytest.raises(ImageError, match=r"not a PNG: starts with 47 49 46 38 39 61$"):
        image_size(b"GIF89a", "image/png")


def test_unsupported_content_type():
    with pytest.raises(
        ImageError, match="unsupported content type 'image/gif'; expected one of image/jpeg, image/png"
    ):
        image_size(b"GIF89a", "image/gif")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (png_header(3, 4)[:20], "truncated PNG: 20 bytes, expected at least 33"),
        (
            b"\x89PNG\r\n\x1a\n" + png_chunk(b"sRGB", b"\x00" * 13),
            "first chunk is b'sRGB' of 13 bytes, expected IHDR",
        ),
        (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", b"\x00" * 14), "first chunk is b'IHDR' of 14 bytes"),
        (png_header(3, 4)[:-1] + b"\x00", "the IHDR chunk's CRC does not match"),
        (png_header(0, 4), "IHDR says 0x4, expected sides from 1 to 2147483647"),
        (png_header(3, 2**31), "IHDR says 3x2147483648"),
    ],
)
def test_corrupt_png(data, message):
    with pytest.raises(ImageError, match=message.replace("(", r"\(")):
        image_size(data, "image/png")


def test_minimal_png_header_is_enough():
    assert image_size(png_header(3, 4), "image/png") == (3, 4)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xd8", "truncated JPEG: ends at byte 2 before a frame header"),
        (jpeg(b"\xff\xff"), "truncated JPEG: ends at byte 4 inside a marker"),
        (jpeg(b"\xff\xe0\x00"), "truncated JPEG: ends at byte 5 in the length of marker 0xffe0"),
        (jpeg(b"\xff\xe0\x00\x10JFIF"), "truncated JPEG: ends at byte 10 before a frame header"),
        (jpeg(b"\x00\x10"), "corrupt JPEG: expected a marker at byte 2, found 0x00"),
        (jpeg(b"\xff\xe0\x00\x01"), "corrupt JPEG: marker 0xffe0 at byte 3 has length 1, below 2"),
        (
            jpeg(segment(0xDA, b"\x00" * 4)),
            r"corrupt JPEG: SOS \(start of scan\) at byte 3 before any frame header",
        ),
        (jpeg(b"\xff\xd9"), "corrupt JPEG: EOI at byte 3 before any frame header"),
        (jpeg(b"\xff\xd8"), "corrupt JPEG: SOI at byte 3"),
        (jpeg(b"\xff\x00"), "corrupt JPEG: a stuffed 0x00 at byte 3"),
        (jpeg(segment(0xC0, b"\x08\x00")), "corrupt JPEG: frame header SOF0 has length 4, below 8"),
        (jpeg(sof(0xC2)[:8]), "truncated JPEG: ends at byte 10 inside the frame header SOF2"),
        (jpeg(sof(width=0)), "corrupt JPEG: frame header SOF0 says width 0"),
        (
            jpeg(sof(height=0)),
            r"unsupported JPEG: frame header SOF0 says height 0 \(set later by a DNL marker\)",
        ),
        (encode()[:100], "truncated JPEG: ends at byte 100"),
    ],
)
def test_corrupt_jpeg(data, message):
    with pytest.raises(ImageError, match=message):
        image_size(data, "image/jpeg")


@given(st.binary(max_size=64), st.sampled_from(["image/jpeg", "image/png"]))
def test_arbitrary_bytes_give_a_size_or_an_image_error(data, content_type):
    for candidate in (data, b"\xff\xd8" + data, b"\x89PNG\r\n\x1a\n" + data):
        try:
            width, height = image_size(candidate, content_type)
        except ImageError:
            continue
        assert min(width, height) > 0


@given(st.data())
def test_every_truncated_header_is_an_image_error(data):
    whole = encode(icc_profile=b"\x01" * 300) if data.draw(st.booleans()) else png_header(9, 9)
    content_type = "image/jpeg" if whole.startswith(b"\xff\xd8") else "image/png"
    header_end = 33 if content_type == "image/png" else whole.index(b"\xff\xc0") + 9
    cut = data.draw(st.integers(0, header_end - 1))
    with pytest.raises(ImageError):
        image_size(whole[:cut], content_type)
    if cut > 2 if content_type == "image/jpeg" else cut >= len(b"\x89PNG\r\n\x1a\n"):
        # The first bytes of a good image: more of them give its size.
        with pytest.raises(TruncatedImageError):
            image_size(whole[:cut], content_type)


def test_an_image_over_the_real_time_request_limit_is_refused_naming_the_limit():
    check_payload_size(b"x" * MAX_REALTIME_PAYLOAD_BYTES)
    with pytest.raises(ImageError, match=r"6,291,457 bytes, above the 6,291,456-byte \(6 MB\) request limit"):
        check_payload_size(b"x" * (MAX_REALTIME_PAYLOAD_BYTES + 1))
