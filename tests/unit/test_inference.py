"""Which mode a run detects with: as asked, or by its number of images for `auto`."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hitl_detection.domain.inference import (
    AUTO,
    BATCH_TRANSFORM,
    ENDPOINT,
    INFERENCE_MODES,
    resolve_inference,
)


@pytest.mark.parametrize("mode", [ENDPOINT, BATCH_TRANSFORM])
def test_a_mode_asked_for_is_taken_whatever_the_images(mode):
    assert resolve_inference(mode, reuses_endpoint=False, images=None, batch_transform_above=10) == mode


@given(st.integers(0, 100), st.integers(0, 100))
def test_auto_takes_a_transform_job_above_the_threshold_only(images, above):
    mode = resolve_inference(AUTO, reuses_endpoint=False, images=images, batch_transform_above=above)
    assert mode == (BATCH_TRANSFORM if images > above else ENDPOINT)


def test_auto_on_a_reused_endpoint_uses_it_without_counting():
    assert resolve_inference(AUTO, reuses_endpoint=True, images=None, batch_transform_above=0) == ENDPOINT


def test_auto_needs_the_count_and_unknown_modes_are_refused():
    with pytest.raises(ValueError, match="inference auto needs the number of the run's images"):
        resolve_inference(AUTO, reuses_endpoint=False, images=None, batch_transform_above=10)
    with pytest.raises(ValueError, match="inference 'async' is not one of endpoint, batch_transform, auto"):
        resolve_inference("async", reuses_endpoint=False, images=1, batch_transform_above=10)
    assert INFERENCE_MODES == ("endpoint", "batch_transform", "auto")
