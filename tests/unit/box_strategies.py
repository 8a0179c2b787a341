"""Hypothesis strategies shared by the unit tests of the pure modules."""

from __future__ import annotations

from hypothesis import strategies as st

from hitl_detection.domain.boxes import Box

LABELS = ("dog", "cat", "person", "bicycle")

label_names = st.sampled_from(LABELS)
scores = st.floats(min_value=0, max_value=1, allow_nan=False)


@st.composite
def int_boxes(draw, label=label_names, source="human", score=None, max_side=200):
    """Boxes with whole-pixel coordinates, as A2I and the detector return them."""
    return Box(
        label=draw(label),
        left=draw(st.integers(0, max_side)),
        top=draw(st.integers(0, max_side)),
        width=draw(st.integers(1, max_side)),
        height=draw(st.integers(1, max_side)),
        score=draw(score) if score is not None else None,
        source=source,
    )


model_boxes = int_boxes(source="model", score=scores)
