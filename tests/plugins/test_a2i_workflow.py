"""A2IWorkflowHook against the local stand-in, over HTTP: task UIs and flow definitions created
once and reused, refused when what exists differs, RenderUiTemplate, waiting for Active."""

import pytest
from airflow.sdk.exceptions import AirflowException
from botocore.exceptions import ClientError
from support import (
    A2I_OUTPUT_BUCKET,
    A2I_ROLE_ARN,
    A2I_WORKTEAM_ARN,
    ACCOUNT_ID,
    RENDER_SAMPLE_IMAGE,
    TEMPLATE,
    rewrite_answers,
)

from hitl_detection.dag_builder.params import DEFAULT_LABELS
from hitl_detection.hooks.a2i_workflow import A2IWorkflowHook, flow_definition_name
from hitl_detection.operators.review_workflow import sample_task_input
from local_aws.stack import inject_fault

pytestmark = pytest.mark.stack


@pytest.fixture
def hook(aws):
    return A2IWorkflowHook(aws_conn_id="aws_default")


@pytest.fixture(scope="module")
def template():
    return TEMPLATE.read_text()


@pytest.fixture
def task_ui_arn(hook, template):
    arn, _ = hook.ensure_human_task_ui("bounding-box", template)
    return arn


@pytest.fixture
def flow_settings(task_ui_arn):
    return {
        "role_arn": A2I_ROLE_ARN,
        "workteam_arn": A2I_WORKTEAM_ARN,
        "human_task_ui_arn": task_ui_arn,
        "s3_output_path": f"s3://{A2I_OUTPUT_BUCKET}/reviews",
        "task_count": 1,
        "task_availability_lifetime_seconds": 864000,
        "task_time_limit_seconds": 3600,
        "title": "Check the boxes",
        "description": "Correct the model's boxes.",
    }


def answering(on_botocore_event, status: str, reason: str | None = None) -> A2IWorkflowHook:
    """A new hook whose DescribeFlowDefinition answers say `status`, which the stand-in's flow
    definitions never stay in (they turn Active by themselves)."""
    fields = {"FlowDefinitionStatus": status, **({"FailureReason": reason} if reason else {})}
    rewrite_answers(on_botocore_event, "sagemaker", "DescribeFlowDefinition", **fields)
    return A2IWorkflowHook(aws_conn_id="aws_default")


# Human task UIs


def test_a_human_task_ui_is_created_once_then_reused(hook, template):
    arn, created = hook.ensure_human_task_ui("bounding-box", template)
    assert created
    assert arn.endswith(":human-task-ui/bounding-box")

    assert hook.ensure_human_task_ui("bounding-box", template) == (arn, False)
    assert hook.conn.describe_human_task_ui(HumanTaskUiName="bounding-box")["HumanTaskUiArn"] == arn


def test_a_human_task_ui_with_another_template_under_the_name_is_refused(hook, template):
    hook.ensure_human_task_ui("bounding-box", template)

    with pytest.raises(AirflowException, match="bounding-box exists with a different template"):
        hook.ensure_human_task_ui("bounding-box", template.replace("tight", "snug"))


# RenderUiTemplate


def test_the_project_template_renders_a_sample_task_without_errors(hook, template, task_ui_arn):
    task_input = sample_task_input(RENDER_SAMPLE_IMAGE, DEFAULT_LABELS)

    assert hook.render_template(task_input, A2I_ROLE_ARN, template=template) == []
    assert hook.render_template(task_input, A2I_ROLE_ARN, human_task_ui_arn=task_ui_arn) == []


def test_render_errors_are_returned(hook, template):
    labels_not_json = template.replace(
        "{{ task.input.labels | to_json | escape }}", "{{ task.input.labels }}"
    )
    task_input = sample_task_input(RENDER_SAMPLE_IMAGE, DEFAULT_LABELS)

    errors = hook.render_template(task_input, A2I_ROLE_ARN, template=labels_not_json)

    assert [error["Code"] for error in errors] == ["InvalidCrowdBoundingBox"]
    assert "labels" in errors[0]["Message"]


def test_render_needs_exactly_one_template_source(hook, template, task_ui_arn):
    task_input = sample_task_input(RENDER_SAMPLE_IMAGE, DEFAULT_LABELS)
    with pytest.raises(ValueError, match="exactly one of template and human_task_ui_arn"):
        hook.render_template(task_input, A2I_ROLE_ARN)
    with pytest.raises(ValueError, match="exactly one of template and human_task_ui_arn"):
        hook.render_template(task_input, A2I_ROLE_ARN, template=template, human_task_ui_arn=task_ui_arn)


# Flow definitions


def test_a_flow_definition_is_created_waited_for_then_reused(hook, flow_settings):
    arn, created = hook.ensure_flow_definition("reviews", **flow_settings)
    assert created
    assert flow_definition_name(arn) == "reviews"

    description = hook.wait_for_flow_definition_active(arn, poll_seconds=0.1, max_attempts=100)
    assert description["FlowDefinitionStatus"] == "Active"
    assert hook.describe_flow_definition("reviews")["FlowDefinitionArn"] == arn

    assert hook.ensure_flow_definition("reviews", **flow_settings) == (arn, False)


def test_a_flow_definition_with_other_settings_under_the_name_is_refused(hook, flow_settings):
    hook.ensure_flow_definition("reviews", **flow_settings)

    with pytest.raises(AirflowException, match=r"HumanLoopConfig\.TaskCount is 1, expected 2") as raised:
        hook.ensure_flow_definition("reviews", **{**flow_settings, "task_count": 2})
    assert "flow definition reviews exists with different settings" in str(raised.value)


def test_a_trailing_slash_on_the_output_path_is_the_same_setting(hook, flow_settings):
    arn, _ = hook.ensure_flow_definition("reviews", **flow_settings)

    again = {**flow_settings, "s3_output_path": flow_settings["s3_output_path"] + "/"}
    assert hook.ensure_flow_definition("reviews", **again) == (arn, False)


def test_create_is_retried_while_iam_propagates_the_role(aws, hook, flow_settings):
    message = f"Could not assume role {A2I_ROLE_ARN}"
    inject_fault(aws, "CreateFlowDefinition", "ValidationException", message=message, count=2)

    arn, created = hook.ensure_flow_definition(
        "reviews", **flow_settings, create_attempts=3, create_backoff_seconds=0.01
    )

    assert created
    assert hook.describe_flow_definition(arn)["FlowDefinitionName"] == "reviews"


def test_create_gives_up_after_its_attempts(aws, hook, flow_settings):
    inject_fault(aws, "CreateFlowDefinition", "ValidationException", message="Could not assume role", count=3)

    with pytest.raises(AirflowException, match=r"ValidationException 3 times: Could not assume role"):
        hook.ensure_flow_definition(
            "reviews", **flow_settings, create_attempts=3, create_backoff_seconds=0.01
        )

    # Exactly three calls were made: the fault is used up, so the next run creates it.
    assert hook.ensure_flow_definition("reviews", **flow_settings, create_attempts=1)[1]


def test_other_create_errors_are_not_retried(aws, hook, flow_settings):
    inject_fault(aws, "CreateFlowDefinition", "ResourceLimitExceeded", count=1)

    with pytest.raises(ClientError, match="ResourceLimitExceeded"):
        hook.ensure_flow_definition("reviews", **flow_settings, create_backoff_seconds=0.01)


def test_waiting_on_a_failed_flow_definition_fails_with_its_reason(hook, flow_settings, on_botocore_event):
    arn, _ = hook.ensure_flow_definition("reviews", **flow_settings)
    failed = answering(on_botocore_event, "Failed", "The workteam does not exist.")

    with pytest.raises(AirflowException, match="is Failed, expected Active: The workteam does not exist"):
        failed.wait_for_flow_definition_active(arn, poll_seconds=0.1, max_attempts=100)


def test_a_failed_flow_definition_is_not_reused(hook, flow_settings, on_botocore_event):
    hook.ensure_flow_definition("reviews", **flow_settings)
    failed = answering(on_botocore_event, "Failed", "The workteam does not exist.")

    with pytest.raises(AirflowException, match=r"reviews exists and is Failed: The workteam does not exist"):
        failed.ensure_flow_definition("reviews", **flow_settings)


def test_waiting_gives_up_after_max_attempts(hook, flow_settings, on_botocore_event):
    arn, _ = hook.ensure_flow_definition("reviews", **flow_settings)
    stuck = answering(on_botocore_event, "Initializing")

    with pytest.raises(AirflowException, match=r"still Initializing after 3 checks"):
        stuck.wait_for_flow_definition_active(arn, poll_seconds=0.01, max_attempts=3)


def test_flow_definition_name_accepts_an_arn_or_a_name():
    arn = f"arn:aws:sagemaker:us-east-1:{ACCOUNT_ID}:flow-definition/reviews"
    assert flow_definition_name(arn) == "reviews"
    assert flow_definition_name("reviews") == "reviews"
