"""What a run will do, decided once in its first task and handed to every other task.

The plan is plain JSON: the checked config, where the run's files go, the endpoint to use and,
when the run deploys one, the provider operators' configs for the model, endpoint config and
endpoint (with network isolation, which AWS Marketplace model packages require).
"""

from __future__ import annotations

from typing import Any

from hitl_detection.naming import deployment_names
from hitl_detection.run_config import RunConfig
from hitl_detection.run_layout import RunLayout

VARIANT_NAME = "detector"


def build_run_plan(config: RunConfig, run_id: str) -> dict[str, Any]:
    layout = RunLayout.for_run(config.output_bucket, config.output_prefix, run_id)
    names = deployment_names(run_id)
    endpoint_name = config.endpoint_name or names.endpoint
    return {
        "run_id": run_id,
        "config": config.to_dict(),
        "layout": {"bucket": layout.bucket, "folder": layout.folder},
        "deploy": config.deploys_endpoint,
        "endpoint_name": endpoint_name,
        "endpoint_config_name": names.endpoint_config,
        "model_name": names.model,
        "model": {
            "ModelName": names.model,
            "PrimaryContainer": {"ModelPackageName": config.model_package_arn},
            "ExecutionRoleArn": config.execution_role_arn,
            "EnableNetworkIsolation": True,
        },
        "endpoint_config": {
            "EndpointConfigName": names.endpoint_config,
            "ProductionVariants": [
                {
                    "VariantName": VARIANT_NAME,
                    "ModelName": names.model,
                    "InitialInstanceCount": config.instance_count,
                    "InstanceType": config.instance_type,
                }
            ],
        },
        "endpoint": {"EndpointName": endpoint_name, "EndpointConfigName": names.endpoint_config},
    }
