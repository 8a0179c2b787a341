"""Build the review backend a run asked for, with every connection setting of the task at hand."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hitl_detection.domain.run_config import REVIEW_BACKENDS, RunConfig
from hitl_detection.review.a2i import A2IReviewBackend
from hitl_detection.review.base import Connections, ReviewBackend
from hitl_detection.review.labelstudio import LabelStudioReviewBackend

BACKENDS: dict[str, type[ReviewBackend]] = {
    backend.name: backend for backend in (A2IReviewBackend, LabelStudioReviewBackend)
}


def review_settings(config: RunConfig) -> dict[str, Any]:
    """`{"backend": name, "settings": {...}}`: what `build_review_backend` takes (JSON)."""
    return {
        "backend": config.review_backend,
        "settings": _backend_class(config.review_backend).settings_from(config),
    }


def build_review_backend(review: Mapping[str, Any], connections: Connections) -> ReviewBackend:
    return _backend_class(review["backend"])(review["settings"], connections)


def _backend_class(name: str) -> type[ReviewBackend]:
    if name not in BACKENDS:
        available = ", ".join(BACKENDS)
        if name in REVIEW_BACKENDS:
            raise ValueError(
                f"review_backend {name!r} is not available in this release; use one of {available}"
            )
        raise ValueError(f"review_backend {name!r} is not one of {available}")
    return BACKENDS[name]
