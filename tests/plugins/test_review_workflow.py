"""The A2I review-workflow operators' execute against the stand-in: the worker task UI checked by a
sample render, then created once; the flow definition created once and waited for until Active.
(The Label Studio project operator needs a real Label Studio: tests/labelstudio.)"""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowException
from botocore.exceptions import ClientError
from support import (
    A2I_OUTPUT_BUCKET,
    A2I_ROLE_ARN,
    A2I_WORKTEAM_ARN,
    RENDER_SAMPLE_IMAGE,
    TEMPLATE,
    task_context,
)

from hitl_detection.dag_builder.params import DEFAULT_LABELS
from hitl_detection.operators.review_workflow import EnsureFlowDefinitionOperator, EnsureHumanTaskUiOperator

pytestmark = pytest.mark.stack


def ensure_task_ui(template_path=TEMPLATE, name: str = "bounding-box") -> str:
    operator = EnsureHumanTaskUiOperator(
        task_id="ensure_human_task_ui",
        human_task_ui_name=name,
        template_path=str(template_path),
        role_arn=A2I_ROLE_ARN,
        labels=DEFAULT_LABELS,
        sample_image_s3_uri=RENDER_SAMPLE_IMAGE,
    )
    return operator.execute(task_context())


def ensure_flow_definition(task_ui_arn: str, task_count: int = 1) -> str:
    operator = EnsureFlowDefinitionOperator(
        task_id="ensure_flow_definition",
        flow_definition_name="review-boxes",
        role_arn=A2I_ROLE_ARN,
        workteam_arn=A2I_WORKTEAM_ARN,
        human_task_ui_arn=task_ui_arn,
        s3_output_path=f"s3://{A2I_OUTPUT_BUCKET}/reviews/",
        task_count=task_count,
        task_availability_lifetime_seconds=864000,
        task_time_limit_seconds=3600,
        task_title="Review the boxes",
        task_description="Correct the model's boxes",
        check_interval=0.05,
        max_attempts=200,
    )
    return operator.execute(task_context())


def test_the_task_ui_is_rendered_then_created_once(aws, count_calls):
    calls = count_calls("sagemaker")

    arn = ensure_task_ui()
    again = ensure_task_ui()

    assert again == arn
    assert arn.endswith(":human-task-ui/bounding-box")
    assert (calls["RenderUiTemplate"], calls["CreateHumanTaskUi"]) == (2, 1)


def test_a_template_that_does_not_render_never_becomes_a_task_ui(aws, tmp_path):
    broken = tmp_path / "broken.liquid.html"
    broken.write_text(TEMPLATE.read_text().replace("| to_json | escape }}", "}}"))

    with pytest.raises(AirflowException, match=r"broken.liquid.html does not render a sample task: .*labels"):
        ensure_task_ui(broken, name="broken")
    with pytest.raises(ClientError, match="ResourceNotFound"):
        aws.client("sagemaker").describe_human_task_ui(HumanTaskUiName="broken")


def test_the_flow_definition_is_created_once_and_returned_once_active(aws, count_calls):
    task_ui_arn = ensure_task_ui()
    calls = count_calls("sagemaker")

    arn = ensure_flow_definition(task_ui_arn)
    again = ensure_flow_definition(task_ui_arn)

    assert again == arn
    assert calls["CreateFlowDefinition"] == 1
    described = aws.client("sagemaker").describe_flow_definition(FlowDefinitionName="review-boxes")
    assert (described["FlowDefinitionArn"], described["FlowDefinitionStatus"]) == (arn, "Active")
    assert described["HumanLoopConfig"]["HumanTaskUiArn"] == task_ui_arn


def test_a_flow_definition_with_other_settings_is_refused_naming_the_difference(aws):
    task_ui_arn = ensure_task_ui()
    ensure_flow_definition(task_ui_arn)

    with pytest.raises(AirflowException, match=r"HumanLoopConfig\.TaskCount is 1, expected 2"):
        ensure_flow_definition(task_ui_arn, task_count=2)
