"""The A2I calls of the SageMaker control plane that moto lacks: human task UIs, flow definitions
and RenderUiTemplate, with the status, validation and errors of the real service."""

import hashlib
import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from werkzeug.wrappers import Request, Response

from local_aws.a2i.ui_templates import Rendering, RenderingError, TaskTemplateRenderer
from local_aws.a2i.validation import OperationInput
from local_aws.core import protocols
from local_aws.core.arns import sagemaker_arn
from local_aws.core.errors import ApiError
from local_aws.core.pagination import paginate
from local_aws.core.server import Operation, Route
from local_aws.core.timestamps import parse_epoch, to_epoch, utc_now

log = logging.getLogger(__name__)

DEFAULT_TASK_TIME_LIMIT_SECONDS = 3600
CREATE_TASK_UI = OperationInput("sagemaker", "CreateHumanTaskUi")
CREATE_FLOW = OperationInput("sagemaker", "CreateFlowDefinition")
RENDER = OperationInput("sagemaker", "RenderUiTemplate")
LIST_TASK_UIS = OperationInput("sagemaker", "ListHumanTaskUis")
LIST_FLOWS = OperationInput("sagemaker", "ListFlowDefinitions")


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
    def operations(self) -> dict[str, Operation]:
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

    def routes(self) -> list[Route]:
        """The page DescribeHumanTaskUi's `UiTemplate.Url` points at: a task UI's template, as HTML."""
        template = "/human-task-uis/<name>/template"
        return [Route(template, "GET", "task_ui_template", protocols.PLAIN, self._template_page)]

    def reset(self) -> None:
        with self._lock:
            self._task_uis.clear()
            self._flows.clear()

    # Human task UIs

    def create_human_task_ui(self, params: dict[str, Any]) -> dict[str, Any]:
        name = _task_ui_name(params.get("HumanTaskUiName"))
        content = _template_content(CREATE_TASK_UI, params.get("UiTemplate"))
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
        page, token = _list_page(LIST_TASK_UIS, task_uis, params)
        summaries = [
            {"HumanTaskUiName": ui.name, "HumanTaskUiArn": ui.arn, "CreationTime": to_epoch(ui.creation_time)}
            for ui in page
        ]
        return {"HumanTaskUiSummaries": summaries, **({"NextToken": token} if token else {})}

    def _template_page(self, _: Request, url: dict[str, Any]) -> Response:
        with self._lock:
            task_ui = self._task_uis.get(url["name"])
        if task_ui is None:
            raise ApiError("ResourceNotFound", f"HumanTaskUi {url['name']} does not exist.", 404)
        return Response(task_ui.content, content_type="text/html; charset=utf-8")

    def _task_ui(self, params: dict[str, Any]) -> HumanTaskUi:
        name = _task_ui_name(params.get("HumanTaskUiName"))
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
        name = _flow_name(params.get("FlowDefinitionName"))
        role_arn = CREATE_FLOW.string(params.get("RoleArn"), "RoleArn")
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
        page, token = _list_page(LIST_FLOWS, flows, params)
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
        name = _flow_name(params.get("FlowDefinitionName"))
        with self._lock:
            flow = self._flows.get(name)
        if flow is None:
            arn = sagemaker_arn(self.region, "flow-definition", name)
            raise ApiError("ResourceNotFound", f"FlowDefinition {arn} does not exist.")
        return flow

    def _human_loop_config(self, value: Any) -> dict[str, Any]:
        path = "HumanLoopConfig"
        config = CREATE_FLOW.structure(value, path)
        CREATE_FLOW.string(config.get("WorkteamArn"), f"{path}.WorkteamArn")
        task_ui_arn = CREATE_FLOW.string(config.get("HumanTaskUiArn"), f"{path}.HumanTaskUiArn")
        if self._task_ui_by_arn(task_ui_arn) is None:
            raise ApiError("ValidationException", f"{path}.HumanTaskUiArn {task_ui_arn} does not exist.")
        CREATE_FLOW.string(config.get("TaskTitle"), f"{path}.TaskTitle")
        CREATE_FLOW.string(config.get("TaskDescription"), f"{path}.TaskDescription")
        CREATE_FLOW.integer(config.get("TaskCount"), f"{path}.TaskCount", required=True)
        for name in ("TaskAvailabilityLifetimeInSeconds", "TaskTimeLimitInSeconds"):
            CREATE_FLOW.integer(config.get(name), f"{path}.{name}")
        CREATE_FLOW.string_list(config.get("TaskKeywords"), f"{path}.TaskKeywords")
        return {"TaskTimeLimitInSeconds": DEFAULT_TASK_TIME_LIMIT_SECONDS, **config}

    # RenderUiTemplate

    def render_ui_template(self, params: dict[str, Any]) -> dict[str, Any]:
        RENDER.string(params.get("RoleArn"), "RoleArn")
        task = RENDER.structure(params.get("Task"), "Task")
        raw_input = RENDER.string(task.get("Input"), "Task.Input")
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
            return _template_content(RENDER, template)
        RENDER.string(task_ui_arn, "HumanTaskUiArn")
        task_ui = self._task_ui_by_arn(task_ui_arn)
        if task_ui is None:
            raise ApiError("ResourceNotFound", f"HumanTaskUi {task_ui_arn} does not exist.")
        return task_ui.content


def _task_ui_name(value: Any) -> str:
    """A task UI's name in any call (they share CreateHumanTaskUi's rules)."""
    return CREATE_TASK_UI.string(value, "HumanTaskUiName")


def _flow_name(value: Any) -> str:
    """A flow definition's name in any call (they share CreateFlowDefinition's rules)."""
    return CREATE_FLOW.string(value, "FlowDefinitionName")


def _template_content(operation: OperationInput, value: Any) -> str:
    """The worker template of CreateHumanTaskUi or RenderUiTemplate (`UiTemplate.Content`)."""
    template = operation.structure(value, "UiTemplate")
    return operation.string(template.get("Content"), "UiTemplate.Content")


def _output_config(value: Any) -> dict[str, Any]:
    config = CREATE_FLOW.structure(value, "OutputConfig")
    path = CREATE_FLOW.string(config.get("S3OutputPath"), "OutputConfig.S3OutputPath")
    if not path.startswith("s3://"):
        raise ApiError(
            "ValidationException",
            f"OutputConfig.S3OutputPath {path}: the emulator writes to s3:// URIs only.",
        )
    CREATE_FLOW.string(config.get("KmsKeyId"), "OutputConfig.KmsKeyId", required=False)
    return config


def _list_page(operation: OperationInput, items: list, params: dict[str, Any]) -> tuple[list, str | None]:
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
        sort_order=operation.enum(params.get("SortOrder"), "SortOrder"),
        max_results=operation.integer(params.get("MaxResults"), "MaxResults"),
        next_token=operation.string(params.get("NextToken"), "NextToken", required=False),
    )
