"""Pick the review backend a run asked for (`review_backend`), by name."""

from __future__ import annotations

from typing import Any

from hitl_detection.review.a2i import A2IReviewBackend
from hitl_detection.review.base import ReviewBackend
from hitl_detection.run_config import REVIEW_BACKENDS


def get_review_backend(name: str, **hook_kwargs: Any) -> ReviewBackend:
    """The backend called `name`, built from its settings and the AWS hook parameters.

    For "a2i": `flow_definition_arn`, and optionally `hook` or `aws_conn_id`, `region_name`,
    `verify`, `botocore_config` (see A2IReviewBackend).
    """
    if name == "a2i":
        return A2IReviewBackend(**hook_kwargs)
    if name == "labelstudio":
        raise ValueError(
            "review_backend 'labelstudio' is not available yet: the Label Studio backend comes in a "
            "later release; use review_backend 'a2i' with a flow_definition_arn"
        )
    raise ValueError(f"review_backend {name!r} is not one of {', '.join(REVIEW_BACKENDS)}")
