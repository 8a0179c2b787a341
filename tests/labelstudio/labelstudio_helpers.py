"""The labeling config and request bodies shared by the Label Studio tests."""

BOX_LABEL_CONFIG = """<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="label" toName="image">
    <Label value="car"/><Label value="dog"/><Label value="person"/>
  </RectangleLabels>
</View>"""
MODEL_VERSION = "gluoncv-ssd-1"


def prediction(boxes: list[tuple[str, float, float, float, float, float]], width=640, height=480) -> dict:
    """A prediction of the model version the project shows: `(label, score, x, y, w, h)` in percent."""
    return {
        "model_version": MODEL_VERSION,
        "score": min(score for _, score, *_ in boxes),
        "result": [
            {
                "from_name": "label",
                "to_name": "image",
                "type": "rectanglelabels",
                "original_width": width,
                "original_height": height,
                "image_rotation": 0,
                "value": {"x": x, "y": y, "width": w, "height": h, "rotation": 0, "rectanglelabels": [label]},
                "score": score,
            }
            for label, score, x, y, w, h in boxes
        ],
    }
