"""The trigger form of detect_and_review: Airflow Params with JSON-schema validation.

The schema catches what a form can (types, ranges, sizes) when the run is created, so a bad value
means no run at all; `RunConfig.from_params` checks the rest (URI and ARN shapes, labels that
cover the class thresholds) in the run's first task, before anything is deployed.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param

from hitl_detection.domain.inference import DEFAULT_INFERENCE, INFERENCE_MODES

DEFAULT_LABELS = ["car", "person", "bicycle", "bus"]
SEED_MODEL_PACKAGE_ARN = (
    "arn:aws:sagemaker:us-east-1:865070037744:model-package/"
    "gluoncv-ssd-resnet501547760463-0f9e6796d2438a1d64bb9b15aac57bc0"
)
_S3_PREFIX_PATTERN = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/(.*/)?$"
_NULLABLE_STRING = ["null", "string"]


def detect_and_review_params(**defaults: Any) -> dict[str, Param]:
    """The params, with `defaults` overriding the built-in default of any of them."""

    def default(name: str, value: Any) -> Any:
        return defaults.get(name, value)

    return {
        "input_s3_uri": Param(
            default("input_s3_uri", "s3://my-bucket/images/"),
            type="string",
            pattern=_S3_PREFIX_PATTERN,
            title="Input images",
            description="s3://bucket/prefix/ holding the images (.jpg, .jpeg, .png) to process.",
        ),
        "output_s3_uri": Param(
            default("output_s3_uri", "s3://my-bucket/results/"),
            type="string",
            pattern=_S3_PREFIX_PATTERN,
            title="Output location",
            description="s3://bucket/prefix/ under which the run writes a folder of its own.",
        ),
        "threshold": Param(
            default("threshold", 0.9),
            type="number",
            minimum=0,
            maximum=1,
            description="A detection scored at or above this is accepted without review.",
        ),
        "min_score": Param(
            default("min_score", 0.2),
            type="number",
            minimum=0,
            maximum=1,
            description="Detections scored below this are noise: dropped, never a reason for review.",
        ),
        "class_thresholds": Param(
            default("class_thresholds", {}),
            type="object",
            additionalProperties={"type": "number", "minimum": 0, "maximum": 1},
            description='Per-label thresholds over `threshold`, e.g. {"bicycle": 0.8}.',
        ),
        "labels": Param(
            default("labels", DEFAULT_LABELS),
            type="array",
            items={"type": "string", "minLength": 1},
            minItems=1,
            maxItems=10,
            uniqueItems=True,
            description="The classes the run cares about, and the labels reviewers pick from (1-10).",
        ),
        "model_package_arn": Param(
            default("model_package_arn", SEED_MODEL_PACKAGE_ARN),
            type=_NULLABLE_STRING,
            description="The AWS Marketplace model package to deploy (it differs per region).",
        ),
        "instance_type": Param(
            default("instance_type", "ml.m4.xlarge"), type="string", pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$"
        ),
        "instance_count": Param(default("instance_count", 1), type="integer", minimum=1),
        "execution_role_arn": Param(
            default("execution_role_arn", None),
            type=_NULLABLE_STRING,
            description="The SageMaker execution role the model runs as.",
        ),
        "endpoint_name": Param(
            default("endpoint_name", None),
            type=_NULLABLE_STRING,
            description="Reuse this InService endpoint: then nothing is deployed or deleted.",
        ),
        "review_backend": Param(
            default("review_backend", "a2i"),
            type="string",
            enum=["a2i", "labelstudio"],
            description="Who reviews: Amazon A2I human loops, or tasks in a self-hosted Label Studio.",
        ),
        "flow_definition_arn": Param(
            default("flow_definition_arn", None),
            type=_NULLABLE_STRING,
            description="A2I: the flow definition (made by the review_workflow_setup DAG).",
        ),
        "label_studio_project_id": Param(
            default("label_studio_project_id", None),
            type=["null", "integer"],
            minimum=1,
            title="Label Studio project id",
            description="Label Studio: the project reviews go to (made by the review_workflow_setup DAG "
            "with review_backend labelstudio), on the connection label_studio_default.",
        ),
        "max_images": Param(
            default("max_images", None),
            type=["null", "integer"],
            minimum=1,
            description="Process at most this many images (in key order); empty for all.",
        ),
        "inference": Param(
            default("inference", DEFAULT_INFERENCE),
            type="string",
            enum=list(INFERENCE_MODES),
            description="How detection runs: a real-time endpoint (a few thousand images), a SageMaker "
            "Batch Transform job (large runs, images up to 100 MB, billed only while it runs), or auto "
            "(a transform job above the deployment's batch_transform_above_images).",
        ),
    }
