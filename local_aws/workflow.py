"""An Active A2I flow definition on the stand-in in one call, for tests, the demo and benchmarks.

What `review_workflow_setup` does for real users, minus the checks: a human task UI from a
template, a flow definition over it, and a wait until the flow definition is Active.
"""

from __future__ import annotations

import time
from typing import Any

ROLE_ARN = "arn:aws:iam::123456789012:role/hitl-local-a2i"
WORKTEAM_ARN = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/hitl-local"


def create_active_flow_definition(
    sagemaker: Any,
    *,
    name: str,
    template: str,
    s3_output_path: str,
    task_count: int = 1,
    ui_name: str | None = None,
    timeout_seconds: float = 30.0,
) -> str:
    """Create the task UI (`ui_name`, default `<name>-ui`) and the flow definition; return its ARN."""
    ui_arn = sagemaker.create_human_task_ui(
        HumanTaskUiName=ui_name or f"{name}-ui", UiTemplate={"Content": template}
    )["HumanTaskUiArn"]
    arn = sagemaker.create_flow_definition(
        FlowDefinitionName=name,
        RoleArn=ROLE_ARN,
        OutputConfig={"S3OutputPath": s3_output_path},
        HumanLoopConfig={
            "WorkteamArn": WORKTEAM_ARN,
            "HumanTaskUiArn": ui_arn,
            "TaskTitle": "Review the boxes",
            "TaskDescription": "Correct the model's boxes",
            "TaskCount": task_count,
        },
    )["FlowDefinitionArn"]
    deadline = time.monotonic() + timeout_seconds
    while sagemaker.describe_flow_definition(FlowDefinitionName=name)["FlowDefinitionStatus"] != "Active":
        if time.monotonic() > deadline:
            raise TimeoutError(f"flow definition {name} was not Active after {timeout_seconds} s")
        time.sleep(0.05)
    return arn
