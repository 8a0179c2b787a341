"""Set up what reviews run on: the A2I worker task UI and flow definition, or a Label Studio project.

Each operator creates what is missing and reuses what exists with the same settings, so the setup
DAG can be run again (or a task retried) without failing or making duplicates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import jinja2
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowException

from hitl_detection.domain.a2i_task import build_input_content
from hitl_detection.domain.boxes import Box
from hitl_detection.domain.label_studio_config import (
    label_differences,
    parse_labeling_config,
    project_problems,
)
from hitl_detection.domain.labels import label_problems
from hitl_detection.domain.s3_uri import parse_s3_uri
from hitl_detection.hooks.a2i_workflow import A2IWorkflowHook
from hitl_detection.hooks.label_studio import LabelStudioHook

# The model version a new project shows predictions of. Label Studio refuses to change a project's
# model_version until predictions of the new one exist, so it is set when the project is made.
LABEL_STUDIO_MODEL_VERSION = "hitl-detection"
LABEL_STUDIO_INSTRUCTIONS = (
    "<p>The boxes already on the image are the objects a detection model found with confidence. "
    "Submit exactly one tight box around every object of the project's labels, each with its right "
    "label, and no other box: move or resize the wrong ones, delete the false ones, draw the missing "
    "ones. The text under the image lists what the model was unsure of: check those places.</p>"
    "<p>Skip a task only when the image cannot be reviewed (it does not load, it is not a photo): "
    "a skipped image keeps the model's boxes and is reported as not reviewed.</p>"
)


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


def render_labeling_config(template: str, labels: Sequence[str]) -> str:
    """The Label Studio labeling config from its Jinja template, with `labels` XML-escaped."""
    problems = label_problems(labels)
    if problems:
        raise ValueError("; ".join(problems))
    environment = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )
    return environment.from_string(template).render(labels=list(labels))


class EnsureLabelStudioProjectOperator(AwsBaseOperator[S3Hook]):
    """Create the Label Studio project reviews go to, or reuse (and check) the one of that title.

    The project offers exactly `labels`, shows the model's predictions, asks `reviewers`
    annotations per task, and has the image bucket as an S3 source storage with presigned links,
    so that task data can hold `s3://` URIs that stay valid however long a task waits. The storage
    gets the credentials, region and S3 endpoint of the AWS connection (`s3_endpoint_url` overrides
    the endpoint, for a Label Studio that reaches S3 by another address). Returns the project id,
    which `detect_and_review` takes as `label_studio_project_id`. Label Studio access goes through
    the connection `label_studio_default`.
    """

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields(
        "project_title", "labels", "reviewers", "images_s3_uri", "s3_endpoint_url"
    )

    def __init__(
        self,
        *,
        project_title: str,
        template_path: str,
        labels: Sequence[str],
        reviewers: int,
        images_s3_uri: str,
        s3_endpoint_url: str | None = None,
        presign_ttl_minutes: int = 60,
        label_studio_conn_id: str = LabelStudioHook.default_conn_name,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.project_title = project_title
        self.template_path = template_path
        self.labels = labels
        self.reviewers = reviewers
        self.images_s3_uri = images_s3_uri
        self.s3_endpoint_url = s3_endpoint_url
        self.presign_ttl_minutes = presign_ttl_minutes
        self.label_studio_conn_id = label_studio_conn_id

    @cached_property
    def label_studio(self) -> LabelStudioHook:
        return LabelStudioHook(self.label_studio_conn_id)

    def execute(self, context: Context) -> int:
        labels = list(self.labels)
        label_config = render_labeling_config(Path(self.template_path).read_text(), labels)
        rendered = parse_labeling_config(label_config)  # a template that does not fit fails here
        if label_differences(rendered.labels, labels):
            raise AirflowException(
                f"labeling config template {self.template_path} {label_differences(rendered.labels, labels)}"
            )
        project = self._ensure_project(label_config, labels)
        project_id = project["id"]
        self._ensure_storage(project_id)
        storages = self.label_studio.list_import_storages(project_id)
        bucket, _ = parse_s3_uri(self.images_s3_uri)
        problems = project_problems(self.label_studio.get_project(project_id), labels, storages, bucket)
        if problems:
            raise AirflowException(
                f"Label Studio project {project_id} is still not usable: {'; '.join(problems)}"
            )
        self.log.info(
            "Label Studio project %s (%s) is ready: detect_and_review takes it as label_studio_project_id.",
            project_id,
            f"{self.label_studio.base_url}/projects/{project_id}",
        )
        return project_id

    def _ensure_project(self, label_config: str, labels: list[str]) -> Mapping[str, Any]:
        title = self.project_title
        found = self.label_studio.list_projects(title=title)
        if len(found) > 1:
            ids = ", ".join(str(project["id"]) for project in found)
            raise AirflowException(
                f"{len(found)} Label Studio projects are titled {title!r} (ids {ids}); rename all but one"
            )
        if not found:
            project = self.label_studio.create_project(
                title=title,
                label_config=label_config,
                model_version=LABEL_STUDIO_MODEL_VERSION,
                show_collab_predictions=True,
                maximum_annotations=self.reviewers,
                show_skip_button=True,
                expert_instruction=LABEL_STUDIO_INSTRUCTIONS,
                show_instruction=True,
            )
            self.log.info("Label Studio project %s (%r): created.", project["id"], title)
            return project
        project = self.label_studio.get_project(found[0]["id"])
        offered = parse_labeling_config(project["label_config"]).labels
        difference = label_differences(offered, labels)
        if difference:
            raise AirflowException(
                f"Label Studio project {project['id']} ({title!r}) {difference}. A project offers one set "
                "of labels to every task in it: choose another project_title for these labels"
            )
        changes: dict[str, Any] = {}
        if project.get("maximum_annotations") != self.reviewers:
            changes["maximum_annotations"] = self.reviewers
        if not project.get("show_collab_predictions"):
            changes["show_collab_predictions"] = True
        if changes:
            project = self.label_studio.update_project(project["id"], **changes)
            self.log.info("Label Studio project %s (%r): reused, with %s.", project["id"], title, changes)
        else:
            self.log.info("Label Studio project %s (%r): reused, it already existed.", project["id"], title)
        return project

    def _ensure_storage(self, project_id: int) -> None:
        """The bucket as a source storage with presigned links. It is there to resolve the tasks'
        s3:// URIs, never to be synced (which would make a task of every object): it gets no prefix,
        for Label Studio refuses a prefix that holds no object yet, and a title that says so."""
        bucket, _ = parse_s3_uri(self.images_s3_uri)
        for storage in self.label_studio.list_import_storages(project_id):
            if storage.get("type") == "s3" and storage.get("bucket") == bucket:
                self.log.info(
                    "S3 storage %s of bucket %s: reused, the project already had it.", storage["id"], bucket
                )
                return
        credentials = self.hook.get_credentials()
        fields: dict[str, Any] = {
            "title": f"s3://{bucket} (image links; do not sync)",
            "description": "Resolves the s3:// URIs of the pipeline's tasks. Syncing it would make a task "
            "of every object in the bucket.",
            "bucket": bucket,
            "presign": True,
            "presign_ttl": self.presign_ttl_minutes,
            "region_name": self.hook.conn_region_name,
            "aws_access_key_id": credentials.access_key,
            "aws_secret_access_key": credentials.secret_key,
        }
        if credentials.token:
            fields["aws_session_token"] = credentials.token
            self.log.warning(
                "The AWS connection %s gives temporary credentials: Label Studio stops showing images once "
                "they expire. Give the storage a long-lived key, or an IAM role of Label Studio's own.",
                self.aws_conn_id,
            )
        endpoint = self.s3_endpoint_url or self.hook.conn_config.get_service_endpoint_url("s3")
        if endpoint:
            fields["s3_endpoint"] = endpoint
        storage = self.label_studio.create_s3_import_storage(project_id, **fields)
        self.log.info(
            "S3 storage %s of bucket %s: created (presigned links, endpoint %s).",
            storage["id"],
            bucket,
            endpoint or "AWS",
        )
