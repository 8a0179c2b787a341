"""Resources on the stand-in in one call, for tests, the demo and benchmarks: an Active A2I flow
definition, and an InService endpoint.

What `review_workflow_setup` and the deploy tasks do for real users, minus their checks.
"""

from __future__ import annotations

import time
from typing import Any

ROLE_ARN = "arn:aws:iam::123456789012:role/hitl-local-a2i"
WORKTEAM_ARN = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/hitl-local"
MODEL_PACKAGE_ARN = "arn:aws:sagemaker:us-east-1:865070037744:model-package/gluoncv-ssd-resnet50"


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
    """Create the task UI (`ui_name`, default `<name>-ui`) and the flow definition, wait until it
    is Active; return its ARN."""
    ui_arn = sagemaker.create_human_task_ui(
        HumanTaskUiName=ui_name or f"{name}-ui", UiTemplate={"Content": template}
    )["HumanTaskUiArn"]
    arn = create_flow_definition(
        sagemaker, name=name, ui_arn=ui_arn, s3_output_path=s3_output_path, task_count=task_count
    )
    wait_until_active(sagemaker, name, timeout_seconds)
    return arn


def create_flow_definition(
    sagemaker: Any,
    *,
    name: str,
    ui_arn: str,
    s3_output_path: str,
    task_count: int = 1,
    role_arn: str = ROLE_ARN,
    workteam_arn: str = WORKTEAM_ARN,
) -> str:
    """A flow definition over an existing task UI (it starts Initializing); returns its ARN."""
    return sagemaker.create_flow_definition(
        FlowDefinitionName=name,
        RoleArn=role_arn,
        OutputConfig={"S3OutputPath": s3_output_path},
        HumanLoopConfig={
            "WorkteamArn": workteam_arn,
            "HumanTaskUiArn": ui_arn,
            "TaskTitle": "Review the boxes",
            "TaskDescription": "Correct the model's boxes",
            "TaskCount": task_count,
        },
    )["FlowDefinitionArn"]


def wait_until_active(sagemaker: Any, name: str, timeout_seconds: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_seconds
    while sagemaker.describe_flow_definition(FlowDefinitionName=name)["FlowDefinitionStatus"] != "Active":
        if time.monotonic() > deadline:
            raise TimeoutError(f"flow definition {name} was not Active after {timeout_seconds} s")
        time.sleep(0.05)


def create_endpoint(sagemaker: Any, name: str, *, role_arn: str = ROLE_ARN, instance_count: int = 1) -> str:
    """A model, an endpoint config and an endpoint, all called `name` (moto makes it InService at
    once; the stand-in's simulated detector answers it). Returns the endpoint's name."""
    sagemaker.create_model(
        ModelName=name,
        PrimaryContainer={"ModelPackageName": MODEL_PACKAGE_ARN},
        ExecutionRoleArn=role_arn,
        EnableNetworkIsolation=True,
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InitialInstanceCount": instance_count,
                "InstanceType": "ml.m4.xlarge",
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    return name
