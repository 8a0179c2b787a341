"""How a run detects: a real-time endpoint, or a SageMaker Batch Transform job.

An endpoint answers each image as it is sent (a few thousand images, results in minutes, 6 MB a
request at most); a transform job reads the run's images from S3 itself, spreads them over its
instances and bills only while it runs (100,000 images, up to 100 MB an image). `auto` picks by
the number of images the run takes.
"""

from __future__ import annotations

ENDPOINT = "endpoint"
BATCH_TRANSFORM = "batch_transform"
AUTO = "auto"
INFERENCE_MODES = (ENDPOINT, BATCH_TRANSFORM, AUTO)
DEFAULT_INFERENCE = ENDPOINT
# Above this many images `auto` runs a transform job (`[hitl_detection] batch_transform_above_images`).
DEFAULT_BATCH_TRANSFORM_ABOVE = 10_000


def resolve_inference(
    requested: str, *, reuses_endpoint: bool, images: int | None, batch_transform_above: int
) -> str:
    """The mode a run detects with: `endpoint` or `batch_transform`.

    `auto` takes a transform job above `batch_transform_above` images, unless the run reuses an
    endpoint (then there is no model of the run's own to give a job). `images` is needed for
    `auto` only.
    """
    if requested not in INFERENCE_MODES:
        raise ValueError(f"inference {requested!r} is not one of {', '.join(INFERENCE_MODES)}")
    if requested != AUTO:
        return requested
    if reuses_endpoint:
        return ENDPOINT
    if images is None:
        raise ValueError("inference auto needs the number of the run's images")
    return BATCH_TRANSFORM if images > batch_transform_above else ENDPOINT
