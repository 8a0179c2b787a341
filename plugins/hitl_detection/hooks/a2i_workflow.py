"""The A2I control plane (`sagemaker`): worker task UIs and flow definitions.

Neither resource can be updated in SageMaker, so each is "ensured": created when absent, reused
when what exists is what was asked for, and refused, naming what differs, when it is not. That
makes a setup run safe to repeat.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Iterator
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.sdk.exceptions import AirflowException
from botocore.exceptions import ClientError


def _error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def flow_definition_name(arn_or_name: str) -> str:
    """DescribeFlowDefinition takes a name; accept the ARN a DAG run was given as well."""
    _, marker, name = arn_or_name.rpartition(":flow-definition/")
    return name if marker else arn_or_name


class A2IWorkflowHook(AwsBaseHook):
    """Create, check and describe the human task UI and flow definition that human loops run on.

    The flow definition states live here, for every caller (a run checking its flow_definition_arn too).
    """

    FLOW_DEFINITION_ACTIVE_STATES = frozenset({"Active"})
    FLOW_DEFINITION_IN_PROGRESS_STATES = frozenset({"Initializing"})
    FLOW_DEFINITION_FAILED_STATES = frozenset({"Failed"})
    FLOW_DEFINITION_REUSABLE_STATES = FLOW_DEFINITION_ACTIVE_STATES | FLOW_DEFINITION_IN_PROGRESS_STATES

    def __init__(self, *args, **kwargs) -> None:
        kwargs["client_type"] = "sagemaker"
        super().__init__(*args, **kwargs)

    # Human task UIs

    def ensure_human_task_ui(self, name: str, template: str) -> tuple[str, bool]:
        """The ARN of the task UI `name` holding `template`, and whether this call created it."""
        existing = self._describe_human_task_ui_if_any(name)
        if existing is None:
            created = self.conn.create_human_task_ui(HumanTaskUiName=name, UiTemplate={"Content": template})
            return created["HumanTaskUiArn"], True
        self._check_same_template(existing, template)
        return existing["HumanTaskUiArn"], False

    def _describe_human_task_ui_if_any(self, name: str) -> dict[str, Any] | None:
        try:
            return self.conn.describe_human_task_ui(HumanTaskUiName=name)
        except ClientError as error:
            if _error_code(error) == "ResourceNotFound":
                return None
            raise

    def _check_same_template(self, existing: dict[str, Any], template: str) -> None:
        name = existing["HumanTaskUiName"]
        existing_digest = existing.get("UiTemplate", {}).get("ContentSha256")
        if existing_digest not in _sha256_encodings(template):
            raise AirflowException(
                f"human task UI {name} exists with a different template (SHA-256 {existing_digest}, "
                f"expected {hashlib.sha256(template.encode()).hexdigest()}). A task UI cannot be updated: "
                "choose a new human task UI name, or delete this one (aws sagemaker delete-human-task-ui "
                f"--human-task-ui-name {name}) if no flow definition uses it"
            )

    def render_template(
        self,
        task_input: str,
        role_arn: str,
        *,
        template: str | None = None,
        human_task_ui_arn: str | None = None,
    ) -> list[dict[str, str]]:
        """RenderUiTemplate's errors (`{Code, Message}`) for one task input (a JSON document).

        Give the template's content to check it before a task UI exists, or a task UI's ARN.
        """
        if (template is None) == (human_task_ui_arn is None):
            raise ValueError("render_template needs exactly one of template and human_task_ui_arn")
        if template is not None:
            source: dict[str, Any] = {"UiTemplate": {"Content": template}}
        else:
            source = {"HumanTaskUiArn": human_task_ui_arn}
        response = self.conn.render_ui_template(Task={"Input": task_input}, RoleArn=role_arn, **source)
        return response.get("Errors", [])

    # Flow definitions

    def describe_flow_definition(self, arn_or_name: str) -> dict[str, Any]:
        return self.conn.describe_flow_definition(FlowDefinitionName=flow_definition_name(arn_or_name))

    def ensure_flow_definition(
        self,
        name: str,
        *,
        role_arn: str,
        workteam_arn: str,
        human_task_ui_arn: str,
        s3_output_path: str,
        task_count: int,
        task_availability_lifetime_seconds: int,
        task_time_limit_seconds: int,
        title: str,
        description: str,
        create_attempts: int = 6,
        create_backoff_seconds: float = 5.0,
    ) -> tuple[str, bool]:
        """The ARN of the flow definition `name` with these settings, and whether this call created it.

        A fresh role can make CreateFlowDefinition fail with ValidationException until IAM has
        propagated it, so that error is retried with exponential backoff, `create_attempts` times.
        """
        request = {
            "FlowDefinitionName": name,
            "RoleArn": role_arn,
            "OutputConfig": {"S3OutputPath": s3_output_path},
            "HumanLoopConfig": {
                "WorkteamArn": workteam_arn,
                "HumanTaskUiArn": human_task_ui_arn,
                "TaskTitle": title,
                "TaskDescription": description,
                "TaskCount": task_count,
                "TaskAvailabilityLifetimeInSeconds": task_availability_lifetime_seconds,
                "TaskTimeLimitInSeconds": task_time_limit_seconds,
            },
        }
        existing = self._describe_flow_definition_if_any(name)
        if existing is None:
            return self._create_flow_definition(request, create_attempts, create_backoff_seconds), True
        self._check_reusable_flow_definition(existing, request)
        return existing["FlowDefinitionArn"], False

    def _describe_flow_definition_if_any(self, name: str) -> dict[str, Any] | None:
        try:
            return self.describe_flow_definition(name)
        except ClientError as error:
            if _error_code(error) == "ResourceNotFound":
                return None
            raise

    def _create_flow_definition(self, request: dict[str, Any], attempts: int, backoff_seconds: float) -> str:
        attempt = 0
        while True:
            attempt += 1
            try:
                return self.conn.create_flow_definition(**request)["FlowDefinitionArn"]
            except ClientError as error:
                if _error_code(error) != "ValidationException":
                    raise
                message = error.response["Error"].get("Message", "")
                if attempt >= attempts:
                    raise AirflowException(
                        f"CreateFlowDefinition {request['FlowDefinitionName']} failed with "
                        f"ValidationException {attempt} times: {message}. If role {request['RoleArn']} "
                        "was just created, IAM may still be propagating it; otherwise check the role (it "
                        "must trust sagemaker.amazonaws.com), the workteam, the task UI and the output path"
                    ) from error
                delay = backoff_seconds * 2 ** (attempt - 1)
                self.log.warning(
                    "CreateFlowDefinition %s: ValidationException (%s), attempt %d of %d; "
                    "retrying in %.1f s in case IAM is still propagating the role.",
                    request["FlowDefinitionName"],
                    message,
                    attempt,
                    attempts,
                    delay,
                )
                time.sleep(delay)

    def _check_reusable_flow_definition(self, existing: dict[str, Any], request: dict[str, Any]) -> None:
        name, status = existing["FlowDefinitionName"], existing["FlowDefinitionStatus"]
        if status not in self.FLOW_DEFINITION_REUSABLE_STATES:
            reason = f": {existing['FailureReason']}" if existing.get("FailureReason") else ""
            raise AirflowException(
                f"flow definition {name} exists and is {status}{reason}; expected "
                f"{' or '.join(sorted(self.FLOW_DEFINITION_REUSABLE_STATES))}. Delete it (aws sagemaker "
                f"delete-flow-definition --flow-definition-name {name}) and run again, or choose another name"
            )
        differences = [
            f"{field} is {found!r}, expected {wanted!r}"
            for field, wanted, found in _flow_definition_settings(request, existing)
            if found != wanted
        ]
        if differences:
            raise AirflowException(
                f"flow definition {name} exists with different settings: {'; '.join(differences)}. "
                "A flow definition cannot be updated: choose a new flow definition name, or delete this one "
                f"(aws sagemaker delete-flow-definition --flow-definition-name {name})"
            )

    def wait_for_flow_definition_active(
        self, arn_or_name: str, poll_seconds: float = 5, max_attempts: int = 60
    ) -> dict[str, Any]:
        """Poll until the flow definition is Active and return its description."""
        attempt = 0
        while True:
            attempt += 1
            description = self.describe_flow_definition(arn_or_name)
            status = description["FlowDefinitionStatus"]
            if status in self.FLOW_DEFINITION_ACTIVE_STATES:
                return description
            if status not in self.FLOW_DEFINITION_IN_PROGRESS_STATES:
                reason = description.get("FailureReason") or "no FailureReason given"
                arn = description["FlowDefinitionArn"]
                raise AirflowException(f"flow definition {arn} is {status}, expected Active: {reason}")
            if attempt >= max_attempts:
                raise AirflowException(
                    f"flow definition {arn_or_name} was still {status} after {attempt} checks "
                    f"{poll_seconds} s apart; expected Active"
                )
            self.log.info(
                "Flow definition %s is %s (check %d of %d).", arn_or_name, status, attempt, max_attempts
            )
            time.sleep(poll_seconds)


def _sha256_encodings(text: str) -> set[str]:
    """SHA-256 of `text` as hex and as base64: the API does not say which ContentSha256 holds."""
    digest = hashlib.sha256(text.encode()).digest()
    return {digest.hex(), base64.b64encode(digest).decode()}


def _flow_definition_settings(
    request: dict[str, Any], existing: dict[str, Any]
) -> Iterator[tuple[str, Any, Any]]:
    """(field, wanted, found) for every setting a reused flow definition must share with the request."""
    yield "RoleArn", request["RoleArn"], existing.get("RoleArn")
    yield (
        "OutputConfig.S3OutputPath",
        request["OutputConfig"]["S3OutputPath"].rstrip("/"),
        existing.get("OutputConfig", {}).get("S3OutputPath", "").rstrip("/"),
    )
    found_config = existing.get("HumanLoopConfig", {})
    for field, wanted in request["HumanLoopConfig"].items():
        yield f"HumanLoopConfig.{field}", wanted, found_config.get(field)
