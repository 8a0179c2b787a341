"""The A2I calls of the SageMaker control plane that moto lacks: human task UIs, flow definitions
and RenderUiTemplate, with the status, validation and errors of the real service."""

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from local_aws import validation as check
from local_aws.arns import (
    HUMAN_TASK_UI_ARN,
    RESOURCE_NAME,
    ROLE_ARN,
    WORKTEAM_ARN,
    sagemaker_arn,
)
from local_aws.errors import ApiError
from local_aws.pagination import paginate
from local_aws.timestamps import parse_epoch, to_epoch, utc_now
from local_aws.ui_templates import Rendering, RenderingError, TaskTemplateRenderer

log = logging.getLogger(__name__)

DEFAULT_TASK_TIME_LIMIT_SECONDS = 3600
S3_OUTPUT_PATH = r"(https|s3)://([^/]+)/?(.*)"
TASK_KEYWORD = r"[A-Za-z0-9]+( [A-Za-z0-9]+)*"


@dataclass
class HumanTaskUi:
    name: str
    arn: str
    content: str
    creation_time: datetime = field(default_factory=utc_now)


@dataclass
class FlowDefinition:
    name: str
    arn: str
    role_arn: str
    output_config: dict[str, Any]
    human_loop_config: dict[str, Any]
    extra: dict[str, Any]
    active_at: datetime
    creation_time: datetime = field(default_factory=utc_now)

    @property
    def status(self) -> str:
        return "Active" if utc_now() >= self.active_at else "Initializing"

    @property
    def output_s3_path(self) -> str:
        return self.output_config["S3OutputPath"]


class ControlPlane:
    """Human task UIs and flow definitions of one account and region, in memory."""

    def __init__(
        self, region: str, public_url: str, renderer: TaskTemplateRenderer, activation_seconds: float
    ) -> None:
        self.region = region
        self.public_url = public_url
        self.renderer = renderer
        self.activation = timedelta(seconds=activation_seconds)
        self._lock = threading.Lock()
        self._task_uis: dict[str, HumanTaskUi] = {}
        self._flows: dict[str, FlowDefinition] = {}

    @property
    def operations(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        """The SageMaker targets this module answers, by operation name."""
        return {
            "CreateHumanTaskUi": self.create_human_task_ui,
            "DescribeHumanTaskUi": self.describe_human_task_ui,
            "DeleteHumanTaskUi": self.delete_human_task_ui,
            "ListHumanTaskUis": self.list_human_task_uis,
            "CreateFlowDefinition": self.create_flow_definition,
            "DescribeFlowDefinition": self.describe_flow_definition,
            "DeleteFlowDefinition": self.delete_flow_definition,
            "ListFlowDefinitions": self.list_flow_definitions,
            "RenderUiTemplate": self.render_ui_template,
        }

    def reset(self) -> None:
        with self._lock:
            self._task_uis.clear()
            self._flows.clear()

    # Human task UIs

    def create_human_task_ui(self, params: dict[str, Any]) -> dict[str, Any]:
        name = _resource_name(params.get("HumanTaskUiName"), "HumanTaskUiName")
        content = _template_content(params.get("UiTemplate"), "UiTemplate")
        with self._lock:
            if name in self._task_uis:
                raise ApiError("ResourceInUse", f"HumanTaskUi {self._task_uis[name].arn} already exists.")
            task_ui = HumanTaskUi(name, sagemaker_arn(self.region, "human-task-ui", name), content)
            self._task_uis[name] = task_ui
        log.info("CreateHumanTaskUi %s", task_ui.arn)
        return {"HumanTaskUiArn": task_ui.arn}

    def describe_human_task_ui(self, params: dict[str, Any]) -> dict[str, Any]:
        task_ui = self._task_ui(params)
        return {
            "HumanTaskUiArn": task_ui.arn,
            "HumanTaskUiName": task_ui.name,
            "HumanTaskUiStatus": "Active",
            "CreationTime": to_epoch(task_ui.creation_time),
            "UiTemplate": {
                "Url": f"{self.public_url}/human-task-uis/{task_ui.name}/template",
                "ContentSha256": hashlib.sha256(task_ui.content.encode()).hexdigest(),
            },
        }

    def delete_human_task_ui(self, params: dict[str, Any]) -> dict[str, Any]:
        task_ui = self._task_ui(params)
        with self._lock:
            self._task_uis.pop(task_ui.name, None)
        log.info("DeleteHumanTaskUi %s", task_ui.arn)
        return {}

    def list_human_task_uis(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            task_uis = list(self._task_uis.values())
        page, token = _list_page(task_uis, params)
        summaries = [
            {"HumanTaskUiName": ui.name, "HumanTaskUiArn": ui.arn, "CreationTime": to_epoch(ui.creation_time)}
            for ui in page
        ]
        return {"HumanTaskUiSummaries": summaries, **({"NextToken": token} if token else {})}

    def template_content(self, name: str) -> str | None:
        with self._lock:
            task_ui = self._task_uis.get(name)
        return task_ui.content if task_ui else None

    def _task_ui(self, params: dict[str, Any]) -> HumanTaskUi:
        name = _resource_name(params.get("HumanTaskUiName"), "HumanTaskUiName")
        with self._lock:
            task_ui = self._task_uis.get(name)
        if task_ui is None:
            arn = sagemaker_arn(self.region, "human-task-ui", name)
            raise ApiError("ResourceNotFound", f"HumanTaskUi {arn} does not exist.")
        return task_ui

    def _task_ui_by_arn(self, arn: str) -> HumanTaskUi | None:
        with self._lock:
            return next((ui for ui in self._task_uis.values() if ui.arn == arn), None)

    # Flow definitions

    def create_flow_definition(self, params: dict[str, Any]) -> dict[str, Any]:
        name = _resource_name(params.get("FlowDefinitionName"), "FlowDefinitionName")
        role_arn = _role_arn(params.get("RoleArn"))
        output_config = _output_config(params.get("OutputConfig"))
        human_loop_config = self._human_loop_config(params.get("HumanLoopConfig"))
        extra = {
            key: params[key]
            for key in ("HumanLoopRequestSource", "HumanLoopActivationConfig")
            if params.get(key) is not None
        }
        with self._lock:
            if name in self._flows:
                raise ApiError("ResourceInUse", f"FlowDefinition {self._flows[name].arn} already exists.")
            flow = FlowDefinition(
                name=name,
                arn=sagemaker_arn(self.region, "flow-definition", name),
                role_arn=role_arn,
                output_config=output_config,
                human_loop_config=human_loop_config,
                extra=extra,
                active_at=utc_now() + self.activation,
            )
            self._flows[name] = flow
        log.info(
            "CreateFlowDefinition %s (Initializing, Active in %ss)", flow.arn, self.activation.total_seconds()
        )
        return {"FlowDefinitionArn": flow.arn}

    def describe_flow_definition(self, params: dict[str, Any]) -> dict[str, Any]:
        flow = self._flow(params)
        return {
            "FlowDefinitionArn": flow.arn,
            "FlowDefinitionName": flow.name,
            "FlowDefinitionStatus": flow.status,
            "CreationTime": to_epoch(flow.creation_time),
            "HumanLoopConfig": flow.human_loop_config,
            "OutputConfig": flow.output_config,
            "RoleArn": flow.role_arn,
            **flow.extra,
        }

    def delete_flow_definition(self, params: dict[str, Any]) -> dict[str, Any]:
        flow = self._flow(params)
        with self._lock:
            self._flows.pop(flow.name, None)
        log.info("DeleteFlowDefinition %s", flow.arn)
        return {}

    def list_flow_definitions(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            flows = list(self._flows.values())
        page, token = _list_page(flows, params)
        summaries = [
            {
                "FlowDefinitionName": flow.name,
                "FlowDefinitionArn": flow.arn,
                "FlowDefinitionStatus": flow.status,
                "CreationTime": to_epoch(flow.creation_time),
            }
            for flow in page
        ]
        return {"FlowDefinitionSummaries": summaries, **({"NextToken": token} if token else {})}

    def flow_by_arn(self, arn: str) -> FlowDefinition | None:
        with self._lock:
            return next((flow for flow in self._flows.values() if flow.arn == arn), None)

    def render_for_flow(self, flow: FlowDefinition, task_input: Any) -> Rendering:
        """Render the flow's worker template with a loop's input, as A2I does when a loop starts."""
        task_ui_arn = flow.human_loop_config["HumanTaskUiArn"]
        task_ui = self._task_ui_by_arn(task_ui_arn)
        if task_ui is None:
            return Rendering(
                "", [RenderingError("HumanTaskUiNotFound", f"HumanTaskUi {task_ui_arn} was deleted.")]
            )
        return self.renderer.render(task_ui.content, task_input)

    def _flow(self, params: dict[str, Any]) -> FlowDefinition:
        name = _resource_name(params.get("FlowDefinitionName"), "FlowDefinitionName")
        with self._lock:
            flow = self._flows.get(name)
        if flow is None:
            arn = sagemaker_arn(self.region, "flow-definition", name)
            raise ApiError("ResourceNotFound", f"FlowDefinition {arn} does not exist.")
        return flow

    def _human_loop_config(self, value: Any) -> dict[str, Any]:
        path = "HumanLoopConfig"
        config = check.structure(value, path)
        check.string(config.get("WorkteamArn"), f"{path}.WorkteamArn", max_len=256, pattern=WORKTEAM_ARN)
        task_ui_arn = check.string(
            config.get("HumanTaskUiArn"), f"{path}.HumanTaskUiArn", max_len=1024, pattern=HUMAN_TASK_UI_ARN
        )
        if self._task_ui_by_arn(task_ui_arn) is None:
            raise ApiError("ValidationException", f"{path}.HumanTaskUiArn {task_ui_arn} does not exist.")
        check.string(config.get("TaskTitle"), f"{path}.TaskTitle", min_len=1, max_len=128)
        check.string(config.get("TaskDescription"), f"{path}.TaskDescription", min_len=1, max_len=255)
        check.integer(config.get("TaskCount"), f"{path}.TaskCount", required=True, minimum=1, maximum=3)
        check.integer(
            config.get("TaskAvailabilityLifetimeInSeconds"),
            f"{path}.TaskAvailabilityLifetimeInSeconds",
            minimum=1,
        )
        check.integer(config.get("TaskTimeLimitInSeconds"), f"{path}.TaskTimeLimitInSeconds", minimum=30)
        check.string_list(
            config.get("TaskKeywords"),
            f"{path}.TaskKeywords",
            min_items=1,
            max_items=5,
            min_len=1,
            max_len=30,
            pattern=TASK_KEYWORD,
        )
        return {"TaskTimeLimitInSeconds": DEFAULT_TASK_TIME_LIMIT_SECONDS, **config}

    # RenderUiTemplate

    def render_ui_template(self, params: dict[str, Any]) -> dict[str, Any]:
        _role_arn(params.get("RoleArn"))
        task = check.structure(params.get("Task"), "Task")
        raw_input = check.string(task.get("Input"), "Task.Input", min_len=2, max_len=128000)
        try:
            task_input = json.loads(raw_input)
        except ValueError:
            raise ApiError("ValidationException", "Task.Input is not a valid JSON document.") from None
        rendering = self.renderer.render(self._template_to_render(params), task_input)
        return {
            "RenderedContent": rendering.content,
            "Errors": [error.to_api() for error in rendering.errors],
        }

    def _template_to_render(self, params: dict[str, Any]) -> str:
        template, task_ui_arn = params.get("UiTemplate"), params.get("HumanTaskUiArn")
        if (template is None) == (task_ui_arn is None):
            raise ApiError("ValidationException", "Provide exactly one of UiTemplate and HumanTaskUiArn.")
        if template is not None:
            return _template_content(template, "UiTemplate")
        check.string(task_ui_arn, "HumanTaskUiArn", max_len=1024, pattern=HUMAN_TASK_UI_ARN)
        task_ui = self._task_ui_by_arn(task_ui_arn)
        if task_ui is None:
            raise ApiError("ResourceNotFound", f"HumanTaskUi {task_ui_arn} does not exist.")
        return task_ui.content


def _resource_name(value: Any, path: str) -> str:
    return check.string(value, path, min_len=1, max_len=63, pattern=RESOURCE_NAME)


def _role_arn(value: Any) -> str:
    return check.string(value, "RoleArn", min_len=20, max_len=2048, pattern=ROLE_ARN)


def _template_content(value: Any, path: str) -> str:
    template = check.structure(value, path)
    return check.string(template.get("Content"), f"{path}.Content", min_len=1, max_len=128000)


def _output_config(value: Any) -> dict[str, Any]:
    config = check.structure(value, "OutputConfig")
    path = check.string(
        config.get("S3OutputPath"), "OutputConfig.S3OutputPath", max_len=1024, pattern=S3_OUTPUT_PATH
    )
    if not path.startswith("s3://"):
        raise ApiError(
            "ValidationException",
            f"OutputConfig.S3OutputPath {path}: the emulator writes to s3:// URIs only.",
        )
    check.string(
        config.get("KmsKeyId"),
        "OutputConfig.KmsKeyId",
        required=False,
        max_len=2048,
        pattern=r"[a-zA-Z0-9:/_-]*",
    )
    return config


def _list_page(items: list, params: dict[str, Any]) -> tuple[list, str | None]:
    """Filter by creation time (After inclusive, Before exclusive, as ListHumanLoops) and paginate."""
    after, before = params.get("CreationTimeAfter"), params.get("CreationTimeBefore")
    if after is not None:
        after = parse_epoch(after, "CreationTimeAfter")
        items = [item for item in items if item.creation_time >= after]
    if before is not None:
        before = parse_epoch(before, "CreationTimeBefore")
        items = [item for item in items if item.creation_time < before]
    return paginate(
        items,
        sort_order=check.enum(params.get("SortOrder"), "SortOrder", ("Ascending", "Descending")),
        max_results=check.integer(params.get("MaxResults"), "MaxResults", minimum=1, maximum=100),
        next_token=check.string(params.get("NextToken"), "NextToken", required=False, max_len=8192),
    )
