import pytest

from hitl_detection.domain.label_studio_config import (
    LabelingConfig,
    LabelingConfigError,
    label_differences,
    parse_labeling_config,
    project_problems,
)

CONFIG = """<View>
  <Header value="Fix the boxes"/>
  <Image name="photo" value="$image" zoom="true"/>
  <RectangleLabels name="boxes" toName="photo" canRotate="false">
    <Label value="car"/><Label value="person" background="red"/>
  </RectangleLabels>
  <Text name="hints" value="$hints"/>
</View>"""


def config_with(control: str, image: str = '<Image name="image" value="$image"/>') -> str:
    return f"<View>{image}{control}</View>"


def project(**overrides) -> dict:
    return {
        "id": 3,
        "title": "reviews",
        "label_config": CONFIG,
        "show_collab_predictions": True,
        "model_version": "hitl-detection",
        **overrides,
    }


def test_parses_the_control_the_image_and_the_labels():
    assert parse_labeling_config(CONFIG) == LabelingConfig(
        image="photo", control="boxes", labels=("car", "person")
    )


def test_a_control_with_no_labels_offers_none():
    config = parse_labeling_config(config_with('<RectangleLabels name="label" toName="image"/>'))
    assert config.labels == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<View><Image", "the labeling config is not XML: "),
        (config_with(""), "the labeling config has 0 RectangleLabels tags; expected exactly one"),
        (
            config_with(
                '<RectangleLabels name="a" toName="image"/><RectangleLabels name="b" toName="image"/>'
            ),
            "the labeling config has 2 RectangleLabels tags",
        ),
        (config_with('<RectangleLabels toName="image"/>'), "the RectangleLabels tag has no name"),
        (
            config_with('<RectangleLabels name="label" toName="picture"/>'),
            "RectangleLabels 'label' draws on toName='picture', which is not the name of an Image tag "
            "(found: ['image'])",
        ),
        (
            config_with(
                '<RectangleLabels name="label" toName="image"/>', '<Image name="image" value="$url"/>'
            ),
            "Image 'image' shows value='$url'; expected value=\"$image\"",
        ),
        (
            config_with(
                '<RectangleLabels name="label" toName="image"><Label background="red"/></RectangleLabels>'
            ),
            "RectangleLabels 'label' Label 0 has no value",
        ),
        (
            config_with(
                '<RectangleLabels name="label" toName="image">'
                '<Label value="car" alias="c"/></RectangleLabels>'
            ),
            "RectangleLabels 'label' Label 0 ('car') has alias='c': results would carry the alias",
        ),
    ],
)
def test_refuses_a_config_it_cannot_use(text, message):
    with pytest.raises(LabelingConfigError) as raised:
        parse_labeling_config(text)
    assert str(raised.value).startswith(message)


def test_label_differences():
    assert label_differences(["car", "person"], ["person", "car"]) is None
    assert label_differences(["car"], ["car", "bus"]) == (
        "offers labels ['car'], expected exactly ['car', 'bus']: it lacks ['bus']"
    )
    assert label_differences(["car", "dog", "car"], ["car"]) == (
        "offers labels ['car', 'dog', 'car'], expected exactly ['car']: it also offers ['dog'], which the "
        "run does not review and offers ['car'] more than once"
    )


def test_a_project_that_fits_has_no_problems():
    storages = [{"type": "gcs", "bucket": "images"}, {"type": "s3", "bucket": "images"}]
    assert project_problems(project(), ["person", "car"], storages, "images") == []
    assert project_problems(project(), ["person", "car"]) == []


def test_every_problem_of_a_project_is_named():
    problems = project_problems(
        project(label_config="<View/>", show_collab_predictions=False), ["car"], [], "images"
    )
    assert problems == [
        "its labeling config does not fit: the labeling config has 0 RectangleLabels tags; expected exactly "
        "one, the boxes reviewers draw",
        "it does not show predictions to reviewers (show_collab_predictions is false: Settings > Annotation, "
        "use predictions to pre-label tasks)",
        "it has no S3 source storage of bucket 'images', so reviewers would not see the images (its S3 "
        "storages: none)",
    ]


def test_other_labels_a_missing_model_version_and_another_bucket_are_problems():
    problems = project_problems(
        project(model_version="", label_config=None), ["car"], [{"type": "s3", "bucket": "other"}], "images"
    )
    assert problems[0].startswith("its labeling config does not fit: the labeling config is not XML")
    assert problems[1].startswith("its model_version is empty, so it would show reviewers no prediction")
    assert problems[2].endswith("(its S3 storages: ['other'])")
    assert project_problems(project(), ["car", "bus"]) == [
        "its labeling config offers labels ['car', 'person'], expected exactly ['car', 'bus']: it lacks "
        "['bus'] and also offers ['person'], which the run does not review"
    ]
