"""Which S3 keys are images, their content types, and their pixel size read from the header.

Images go to the endpoint as stored, with the content type of their extension, so boxes are in
the stored image's pixels; the size comes from the PNG IHDR or the JPEG frame header without
decoding, so checking an image costs microseconds and no imaging library.
"""

from __future__ import annotations

import struct
import zlib

IMAGE_CONTENT_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}
# InvokeEndpoint on a real-time endpoint takes a request body of at most 6 MB.
MAX_REALTIME_PAYLOAD_BYTES = 6 * 1024 * 1024

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SOI = b"\xff\xd8"
_PNG_MAX_SIDE = 2**31 - 1
# Frame headers SOF0-SOF15, except DHT (C4), JPG (C8) and DAC (CC) which share the range.
_JPEG_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field: TEM and RST0-RST7.
_JPEG_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD8)})
_JPEG_MARKER_NAMES = {0xD8: "SOI", 0xD9: "EOI", 0xDA: "SOS (start of scan)", 0x00: "a stuffed 0x00"}


class ImageError(ValueError):
    """The bytes are not a readable image of the expected type."""


class TruncatedImageError(ImageError):
    """The bytes end before the header does: of a whole image, it is broken; of its first bytes
    only, more of them are needed."""


def content_type_for(key: str) -> str | None:
    """The content type for an S3 key by its extension (case-insensitive), None if not an image."""
    name = key.rsplit("/", 1)[-1]
    dot = name.rfind(".")
    if dot < 0:
        return None
    return IMAGE_CONTENT_TYPES.get(name[dot:].lower())


def is_image_key(key: str) -> bool:
    return content_type_for(key) is not None


def check_payload_size(data: bytes) -> None:
    """An image larger than a real-time endpoint takes fails as itself, before it is sent."""
    if len(data) > MAX_REALTIME_PAYLOAD_BYTES:
        raise ImageError(
            f"the image has {len(data):,} bytes, above the {MAX_REALTIME_PAYLOAD_BYTES:,}-byte (6 MB) "
            "request limit of a real-time SageMaker endpoint"
        )


def image_size(data: bytes, content_type: str) -> tuple[int, int]:
    """(width, height) in pixels, from the header of a PNG or JPEG of the given content type."""
    if content_type == "image/png":
        return _png_size(data)
    if content_type == "image/jpeg":
        return _jpeg_size(data)
    expected = ", ".join(sorted(set(IMAGE_CONTENT_TYPES.values())))
    raise ImageError(f"unsupported content type {content_type!r}; expected one of {expected}")


def _describe_start(data: bytes) -> str:
    if not data:
        return "is empty (0 bytes)"
    kind = ""
    if data.startswith(PNG_SIGNATURE):
        kind = " (a PNG signature)"
    elif data.startswith(JPEG_SOI):
        kind = " (a JPEG start-of-image marker)"
    return f"starts with {bytes(data[:8]).hex(' ')}{kind}"


def _png_size(data: bytes) -> tuple[int, int]:
    if not data.startswith(PNG_SIGNATURE):
        raise ImageError(f"not a PNG: {_describe_start(data)}")
    if len(data) < 33:
        raise TruncatedImageError(
            f"truncated PNG: {len(data)} bytes, expected at least 33 for the signature and IHDR"
        )
    length, chunk_type = struct.unpack(">I4s", data[8:16])
    if chunk_type != b"IHDR" or length != 13:
        raise ImageError(
            f"corrupt PNG: first chunk is {chunk_type!r} of {length} bytes, expected IHDR of 13 bytes"
        )
    (crc,) = struct.unpack(">I", data[29:33])
    if zlib.crc32(data[12:29]) != crc:
        raise ImageError("corrupt PNG: the IHDR chunk's CRC does not match its content")
    width, height = struct.unpack(">II", data[16:24])
    if not (0 < width <= _PNG_MAX_SIDE and 0 < height <= _PNG_MAX_SIDE):
        raise ImageError(f"corrupt PNG: IHDR says {width}x{height}, expected sides from 1 to {_PNG_MAX_SIDE}")
    return width, height


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """Walk the marker segments up to the first frame header (SOFn, baseline or progressive)."""
    if not data.startswith(JPEG_SOI):
        raise ImageError(f"not a JPEG: {_describe_start(data)}")
    end = len(data)
    pos = 2
    while True:
        if pos >= end:
            raise TruncatedImageError(f"truncated JPEG: ends at byte {end} before a frame header (SOFn)")
        if data[pos] != 0xFF:
            raise ImageError(f"corrupt JPEG: expected a marker at byte {pos}, found 0x{data[pos]:02x}")
        while pos < end and data[pos] == 0xFF:  # a marker may be preceded by fill bytes
            pos += 1
        if pos >= end:
            raise TruncatedImageError(f"truncated JPEG: ends at byte {end} inside a marker")
        marker = data[pos]
        pos += 1
        if marker in _JPEG_STANDALONE_MARKERS:
            continue
        if marker in _JPEG_MARKER_NAMES:
            raise ImageError(
                f"corrupt JPEG: {_JPEG_MARKER_NAMES[marker]} at byte {pos - 1} before any frame header (SOFn)"
            )
        if pos + 2 > end:
            raise TruncatedImageError(
                f"truncated JPEG: ends at byte {end} in the length of marker {_marker(marker)}"
            )
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        if length < 2:
            raise ImageError(
                f"corrupt JPEG: marker {_marker(marker)} at byte {pos - 1} has length {length}, below 2"
            )
        if marker in _JPEG_SOF_MARKERS:
            return _jpeg_frame_size(data, pos, length, marker)
        pos += length


def _jpeg_frame_size(data: bytes, pos: int, length: int, marker: int) -> tuple[int, int]:
    # Frame header: length (2), precision (1), height (2), width (2), components...
    if length < 8:
        raise ImageError(f"corrupt JPEG: frame header SOF{marker - 0xC0} has length {length}, below 8")
    if pos + 7 > len(data):
        raise TruncatedImageError(
            f"truncated JPEG: ends at byte {len(data)} inside the frame header SOF{marker - 0xC0}"
        )
    height, width = struct.unpack(">HH", data[pos + 3 : pos + 7])
    if width == 0:
        raise ImageError(f"corrupt JPEG: frame header SOF{marker - 0xC0} says width 0")
    if height == 0:
        raise ImageError(
            f"unsupported JPEG: frame header SOF{marker - 0xC0} says height 0 (set later by a DNL marker)"
        )
    return width, height


def _marker(marker: int) -> str:
    return f"0xff{marker:02x}"
