"""The run's labels checked against what a known model can say, before anything is deployed."""

import pytest

from hitl_detection.domain.model_classes import COCO_CLASSES, model_classes

SEED = (
    "arn:aws:sagemaker:us-east-1:865070037744:model-package/"
    "gluoncv-ssd-resnet501547760463-0f9e6796d2438a1d64bb9b15aac57bc0"
)
GLUONCV = model_classes(SEED)


def test_the_seeds_model_says_cocos_80_classes_in_every_region():
    assert len(COCO_CLASSES) == len(set(COCO_CLASSES)) == 80
    assert GLUONCV is not None
    assert GLUONCV.classes == COCO_CLASSES
    other_region = SEED.replace("us-east-1:865070037744", "eu-west-1:985815980388")
    assert model_classes(other_region) == GLUONCV
    assert GLUONCV.label_problems(["car", "person", "traffic light", "zebra"]) == []


@pytest.mark.parametrize(
    "arn",
    [None, "", "arn:aws:sagemaker:us-east-1:123456789012:model-package/my-detector/3", "not an arn"],
)
def test_the_classes_of_other_model_packages_are_not_known(arn):
    assert model_classes(arn) is None


@pytest.mark.parametrize(
    ("label", "suggestion"),
    [
        ("Car", "car"),
        ("Traffic Light", "traffic light"),
        ("traffic_light", "traffic light"),
        ("bicyle", "bicycle"),
        ("motorcycles", "motorcycle"),
    ],
)
def test_a_misspelt_label_is_refused_with_the_right_spelling(label, suggestion):
    assert GLUONCV.label_problems(["person", label]) == [
        f"labels[1] {label!r} is not a class of the GluonCV SSD model (COCO, 80 classes): it would never "
        f"be detected; did you mean {suggestion!r}?"
    ]


def test_a_label_outside_the_models_list_is_refused_without_a_guess():
    assert GLUONCV.label_problems(["forklift"]) == [
        "labels[0] 'forklift' is not a class of the GluonCV SSD model (COCO, 80 classes): it would never "
        "be detected"
    ]
