"""RenderUiTemplate through boto3: Liquid with A2I's filters, and the checks of crowd-bounding-box."""

import html
import json
import re

import pytest
import requests
from botocore.exceptions import ClientError
from stack_helpers import IMAGE_BUCKET, PROJECT_TEMPLATE, ROLE_ARN, TEMPLATE, task_input

pytestmark = pytest.mark.stack


def render(sagemaker, task: dict, template: str = TEMPLATE) -> dict:
    return sagemaker.render_ui_template(
        UiTemplate={"Content": template}, Task={"Input": json.dumps(task)}, RoleArn=ROLE_ARN
    )


def test_grant_read_access_presigns_a_url_that_reads_the_image(clean_stack, sagemaker, s3):
    s3.create_bucket(Bucket=IMAGE_BUCKET)
    s3.put_object(Bucket=IMAGE_BUCKET, Key="street-01.jpg", Body=b"jpeg bytes")

    rendered = render(sagemaker, task_input())

    assert rendered["Errors"] == []
    src = html.unescape(re.search(r'<crowd-bounding-box[^>]*\ssrc="([^"]*)"', rendered["RenderedContent"])[1])
    assert src.startswith(f"{clean_stack.moto_url}/{IMAGE_BUCKET}/street-01.jpg?")
    assert requests.get(src, timeout=5).content == b"jpeg bytes"


def test_values_are_escaped_unless_to_json_or_skip_autoescape(clean_stack, sagemaker):
    template = (
        "<p>{{ task.input.text }}|{{ task.input.text | skip_autoescape }}|{{ task.input.list | to_json }}</p>"
    )
    rendered = render(sagemaker, {"text": "<b>&</b>", "list": ["a<b"]}, template)
    assert rendered["RenderedContent"] == '<p>&lt;b&gt;&amp;&lt;/b&gt;|<b>&</b>|["a<b"]</p>'


def test_grant_read_access_leaves_other_strings_alone(clean_stack, sagemaker):
    rendered = render(
        sagemaker, {"url": "https://example.com/a.jpg"}, "{{ task.input.url | grant_read_access }}"
    )
    assert rendered["RenderedContent"] == "https://example.com/a.jpg"


def test_a_template_is_rendered_by_human_task_ui_arn(clean_stack, sagemaker, task_ui_arn):
    rendered = sagemaker.render_ui_template(
        HumanTaskUiArn=task_ui_arn, Task={"Input": json.dumps(task_input())}, RoleArn=ROLE_ARN
    )
    assert rendered["Errors"] == []
    assert "<crowd-bounding-box" in rendered["RenderedContent"]


def test_the_project_template_renders_a_realistic_task(clean_stack, sagemaker):
    task = task_input(
        uncertain=[{"label": "person", "left": 5, "top": 6, "width": 7, "height": 8, "score": 0.42}]
    )
    rendered = render(sagemaker, task, PROJECT_TEMPLATE.read_text())
    assert rendered["Errors"] == []
    assert "42% sure" in rendered["RenderedContent"]


def test_the_project_template_escapes_the_labels_once(clean_stack, sagemaker):
    labels = ["car", "a<b", "c&d"]

    rendered = render(sagemaker, task_input(labels=labels), PROJECT_TEMPLATE.read_text())

    content = rendered["RenderedContent"]
    assert rendered["Errors"] == []
    assert content.count("<strong>car, a&lt;b, c&amp;d</strong>") == 2  # full and short instructions
    assert "&amp;lt;" not in content
    assert "&amp;amp;" not in content
    attribute = re.search(r'<crowd-bounding-box[^>]*\slabels="([^"]*)"', content)[1]
    assert json.loads(html.unescape(attribute)) == labels


@pytest.mark.parametrize(
    ("template", "task", "code", "words"),
    [
        ("{% if task.input.labels %}open", task_input(), "TemplateSyntaxError", "endif"),
        ("{{ task.input.labels | shout }}", task_input(), "UnknownFilter", "shout"),
        (TEMPLATE, task_input(labels="car"), "InvalidCrowdBoundingBox", "labels"),
        (TEMPLATE, task_input(labels=[]), "InvalidCrowdBoundingBox", "0 entries"),
        (
            TEMPLATE,
            task_input(labels=[f"label-{i}" for i in range(11)]),
            "InvalidCrowdBoundingBox",
            "11 entries",
        ),
        (TEMPLATE, task_input(labels=["car", 7]), "InvalidCrowdBoundingBox", "array of strings"),
        (
            TEMPLATE,
            task_input(initialValue=[{"label": "truck", "left": 1, "top": 2, "width": 3, "height": 4}]),
            "InvalidCrowdBoundingBox",
            "'truck'",
        ),
        (TEMPLATE, task_input(initialValue=[{"label": "car"}]), "InvalidCrowdBoundingBox", "left"),
        (TEMPLATE, task_input(initialValue={"label": "car"}), "InvalidCrowdBoundingBox", "not a JSON array"),
        (TEMPLATE.replace("| to_json | escape ", ""), task_input(), "InvalidCrowdBoundingBox", "not JSON"),
    ],
)
def test_rendering_problems_are_reported_as_errors(clean_stack, sagemaker, template, task, code, words):
    rendered = render(sagemaker, task, template)
    assert rendered["Errors"]
    assert {error["Code"] for error in rendered["Errors"]} == {code}
    assert words in rendered["Errors"][0]["Message"]


@pytest.mark.parametrize(
    ("request_change", "field"),
    [
        ({"UiTemplate": None, "HumanTaskUiArn": None}, "exactly one"),
        ({"HumanTaskUiArn": "arn:aws:sagemaker:us-east-1:123456789012:human-task-ui/boxes"}, "exactly one"),
        ({"Task": {"Input": "not json"}}, "Task.Input"),
        ({"Task": {"Input": "x" * 128_001}}, "Task.Input"),
        ({"RoleArn": "role/a2i"}, "RoleArn"),
    ],
)
def test_a_render_request_is_validated(clean_stack, raw_sagemaker, request_change, field):
    request = {
        "UiTemplate": {"Content": TEMPLATE},
        "Task": {"Input": json.dumps(task_input())},
        "RoleArn": ROLE_ARN,
    }
    request = {key: value for key, value in {**request, **request_change}.items() if value is not None}
    with pytest.raises(ClientError) as excinfo:
        raw_sagemaker.render_ui_template(**request)
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"
    assert field in excinfo.value.response["Error"]["Message"]


def test_an_unknown_human_task_ui_is_not_found(clean_stack, sagemaker):
    with pytest.raises(sagemaker.exceptions.ResourceNotFound):
        sagemaker.render_ui_template(
            HumanTaskUiArn="arn:aws:sagemaker:us-east-1:123456789012:human-task-ui/none",
            Task={"Input": "{}"},
            RoleArn=ROLE_ARN,
        )
