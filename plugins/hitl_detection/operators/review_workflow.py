"""Set up the A2I review workflow: the worker task UI, then the flow definition human loops run on.

Both operators create what is missing and reuse what exists with the same settings, so the setup
DAG can be run again (or a task retried) without failing or making duplicates.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowException

from hitl_detection.a2i_task import build_input_content
from hitl_detection.boxes import Box
from hitl_detection.hooks.a2i_workflow import A2IWorkflowHook


def sample_task_input(image_s3_uri: str, labels: Sequence[str]) -> str:
    """A task like the ones human loops will carry: a confident box and an uncertain one."""
    confident = Box(labels[0], left=40, top=30, width=120, height=90, score=0.97)
    uncertain = Box(labels[-1], left=200, top=120, width=60, height=80, score=0.55)
    return build_input_content(image_s3_uri, [confident], labels, [uncertain])


class EnsureHumanTaskUiOperator(AwsBaseOperator[A2IWorkflowHook]):
    """Create the worker task UI from a template file, or reuse the one holding the same template.

    The template is first rendered with a sample task (RenderUiTemplate), so a template that does
    not render fails here, before it becomes a task UI that can be neither updated nor used.
    Returns the task UI's ARN.
    """

    aws_hook_class = A2IWorkflowHook
    template_fields: Sequence[str] = aws_template_fields(
        "human_task_ui_name", "role_arn", "labels", "sample_image_s3_uri"
    )

    def __init__(
        self,
        *,
        human_task_ui_name: str,
        template_path: str,
        role_arn: str,
        labels: Sequence[str],
        sample_image_s3_uri: str,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.human_task_ui_name = human_task_ui_name
        self.template_path = template_path
        self.role_arn = role_arn
        self.labels = labels
        self.sample_image_s3_uri = sample_image_s3_uri

    def execute(self, context: Context) -> str:
        template = Path(self.template_path).read_text()
        errors = self.hook.render_template(
            sample_task_input(self.sample_image_s3_uri, self.labels), self.role_arn, template=template
        )
        if errors:
            listed = "; ".join(f"{error['Code']}: {error['Message']}" for error in errors)
            raise AirflowException(
                f"worker template {self.template_path} does not render a sample task: {listed}"
            )
        self.log.info("Worker template %s renders a sample task without errors.", self.template_path)
        arn, created = self.hook.ensure_human_task_ui(self.human_task_ui_name, template)
        self.log.info("Human task UI %s: %s.", arn, "created" if created else "reused, it already existed")
        return arn


class EnsureFlowDefinitionOperator(AwsBaseOperator[A2IWorkflowHook]):
    """Create the flow definition (human review workflow), or reuse the one with the same settings,
    and wait until it is Active. Returns its ARN, which `detect_and_review` takes as a param."""

    aws_hook_class = A2IWorkflowHook
    template_fields: Sequence[str] = aws_template_fields(
        "flow_definition_name",
        "role_arn",
        "workteam_arn",
        "human_task_ui_arn",
        "s3_output_path",
        "task_count",
        "task_availability_lifetime_seconds",
        "task_time_limit_seconds",
        "task_title",
        "task_description",
    )

    def __init__(
        self,
        *,
        flow_definition_name: str,
        role_arn: str,
        workteam_arn: str,
        human_task_ui_arn: str,
        s3_output_path: str,
        task_count: int,
        task_availability_lifetime_seconds: int,
        task_time_limit_seconds: int,
        task_title: str,
        task_description: str,
        check_interval: float = 2,
        max_attempts: int = 150,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.flow_definition_name = flow_definition_name
        self.role_arn = role_arn
        self.workteam_arn = workteam_arn
        self.human_task_ui_arn = human_task_ui_arn
        self.s3_output_path = s3_output_path
        self.task_count = task_count
        self.task_availability_lifetime_seconds = task_availability_lifetime_seconds
        self.task_time_limit_seconds = task_time_limit_seconds
        self.task_title = task_title
        self.task_description = task_description
        self.check_interval = check_interval
        self.max_attempts = max_attempts

    def execute(self, context: Context) -> str:
        arn, created = self.hook.ensure_flow_definition(
            self.flow_definition_name,
            role_arn=self.role_arn,
            workteam_arn=self.workteam_arn,
            human_task_ui_arn=self.human_task_ui_arn,
            s3_output_path=self.s3_output_path,
            task_count=self.task_count,
            task_availability_lifetime_seconds=self.task_availability_lifetime_seconds,
            task_time_limit_seconds=self.task_time_limit_seconds,
            title=self.task_title,
            description=self.task_description,
        )
        self.log.info("Flow definition %s: %s.", arn, "created" if created else "reused, it already existed")
        self.hook.wait_for_flow_definition_active(arn, self.check_interval, self.max_attempts)
        self.log.info("Flow definition %s is Active: detect_and_review takes it as flow_definition_arn.", arn)
        return arn
