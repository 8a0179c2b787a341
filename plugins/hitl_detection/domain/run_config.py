"""Check a run's params as a whole, before any endpoint is deployed or any loop is started.

The JSON schema of the trigger form checks types one field at a time; the rules here span fields
(an ARN is required unless an endpoint is reused, class thresholds must name labels) and all
problems are reported together so that one correction fixes the whole form.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hitl_detection.domain.gating import DEFAULT_MIN_SCORE, DEFAULT_THRESHOLD, GatePolicy, policy_problems
from hitl_detection.domain.inference import BATCH_TRANSFORM, DEFAULT_INFERENCE, INFERENCE_MODES
from hitl_detection.domain.naming import SAGEMAKER_NAME_PATTERN
from hitl_detection.domain.s3_uri import S3UriError, join_s3_uri, parse_s3_uri

REVIEW_BACKENDS = ("a2i", "labelstudio")
DEFAULT_INSTANCE_TYPE = "ml.m4.xlarge"
DEFAULT_REVIEW_BACKEND = "a2i"

_PARTITION = r"arn:aws[a-z-]*"
_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d+"
_ACCOUNT = r"\d{12}"
_RESOURCE_NAME = r"[a-zA-Z0-9](?:-*[a-zA-Z0-9]){0,62}"
MODEL_PACKAGE_ARN_PATTERN = (
    rf"^{_PARTITION}:sagemaker:{_REGION}:{_ACCOUNT}:model-package/{_RESOURCE_NAME}(?:/\d+)?$"
)
_IAM_CHARS = r"[A-Za-z0-9_+=,.@-]"
ROLE_ARN_PATTERN = rf"^{_PARTITION}:iam::{_ACCOUNT}:role/(?:{_IAM_CHARS}+/)*{_IAM_CHARS}{{1,64}}$"
FLOW_DEFINITION_ARN_PATTERN = (
    rf"^{_PARTITION}:sagemaker:{_REGION}:{_ACCOUNT}:flow-definition/[a-z0-9](?:-*[a-z0-9]){{0,62}}$"
)
INSTANCE_TYPE_PATTERN = r"^ml\.[a-z0-9]+\.[a-z0-9]+$"

_EXPECTED_MODEL_PACKAGE = (
    "a model package ARN (arn:aws:sagemaker:<region>:<12-digit account>:model-package/<name>)"
)
_EXPECTED_ROLE = "an IAM role ARN (arn:aws:iam::<12-digit account>:role/<path/><name>)"
_EXPECTED_FLOW_DEFINITION = (
    "a flow definition ARN (arn:aws:sagemaker:<region>:<12-digit account>:flow-definition/<name>)"
)
_EXPECTED_ENDPOINT = "a SageMaker endpoint name (letters, digits and inner hyphens, at most 63)"
_EXPECTED_PROJECT = "the id of a Label Studio project (made by review_workflow_setup)"


class ParamsError(ValueError):
    """A run's params have problems; `problems` lists each, starting with the param's name."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"- {problem}" for problem in self.problems)
        super().__init__(f"the run's params have {len(self.problems)} problem(s):\n{lines}")


@dataclass(frozen=True)
class RunConfig:
    """A run's params, checked; `endpoint_name` None means the run deploys (and deletes) its own."""

    input_bucket: str
    input_prefix: str
    output_bucket: str
    output_prefix: str
    policy: GatePolicy
    labels: tuple[str, ...]
    model_package_arn: str | None
    instance_type: str
    instance_count: int
    execution_role_arn: str | None
    endpoint_name: str | None
    review_backend: str
    flow_definition_arn: str | None
    max_images: int | None
    label_studio_project_id: int | None = None
    inference: str = DEFAULT_INFERENCE  # as asked: endpoint, batch_transform or auto (the plan resolves it)

    @property
    def input_s3_uri(self) -> str:
        return join_s3_uri(self.input_bucket, self.input_prefix)

    @property
    def output_s3_uri(self) -> str:
        return join_s3_uri(self.output_bucket, self.output_prefix)

    @property
    def deploys_endpoint(self) -> bool:
        return self.endpoint_name is None

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> RunConfig:
        """Check the DAG run's params (DESIGN.md conf keys; others are ignored); raise ParamsError
        listing every problem. Empty strings count as null for the optional ARNs and names."""
        problems: list[str] = []
        input_location = _location(params, "input_s3_uri", problems)
        output_location = _location(params, "output_s3_uri", problems)
        if input_location and input_location == output_location:
            problems.append(
                f"output_s3_uri {params['output_s3_uri']!r} is the same location as input_s3_uri; "
                "expected a separate prefix for results"
            )

        threshold = params.get("threshold", DEFAULT_THRESHOLD)
        min_score = params.get("min_score", DEFAULT_MIN_SCORE)
        class_thresholds = params.get("class_thresholds")
        class_thresholds = {} if class_thresholds is None else class_thresholds
        labels = params.get("labels")
        if labels is None:
            problems.append("labels is missing; expected a list of 1-10 class names")
        problems.extend(policy_problems(threshold, min_score, class_thresholds, labels))

        endpoint_name = _optional_name(
            params, "endpoint_name", SAGEMAKER_NAME_PATTERN, _EXPECTED_ENDPOINT, problems
        )
        deploy_reason = "when endpoint_name is null (the run deploys a model)"
        deploys = _blank(params.get("endpoint_name"))
        model_package_arn = _optional_name(
            params,
            "model_package_arn",
            MODEL_PACKAGE_ARN_PATTERN,
            _EXPECTED_MODEL_PACKAGE,
            problems,
            required_reason=deploy_reason if deploys else None,
        )
        execution_role_arn = _optional_name(
            params,
            "execution_role_arn",
            ROLE_ARN_PATTERN,
            _EXPECTED_ROLE,
            problems,
            required_reason=deploy_reason if deploys else None,
        )
        instance_type = params.get("instance_type", DEFAULT_INSTANCE_TYPE)
        if not isinstance(instance_type, str) or not re.fullmatch(INSTANCE_TYPE_PATTERN, instance_type):
            problems.append(f"instance_type {instance_type!r} is not an instance type like ml.m4.xlarge")
        instance_count = _integer(params, "instance_count", 1, problems, nullable=False)

        review_backend = params.get("review_backend", DEFAULT_REVIEW_BACKEND)
        if review_backend not in REVIEW_BACKENDS:
            problems.append(f"review_backend {review_backend!r} is not one of {', '.join(REVIEW_BACKENDS)}")
        flow_definition_arn = _optional_name(
            params,
            "flow_definition_arn",
            FLOW_DEFINITION_ARN_PATTERN,
            _EXPECTED_FLOW_DEFINITION,
            problems,
            required_reason='when review_backend is "a2i"' if review_backend == "a2i" else None,
        )
        if params.get("label_studio_project_id") is None and review_backend == "labelstudio":
            problems.append(
                'label_studio_project_id is required when review_backend is "labelstudio"; '
                f"expected {_EXPECTED_PROJECT}"
            )
        label_studio_project_id = _integer(params, "label_studio_project_id", None, problems, nullable=True)
        max_images = _integer(params, "max_images", None, problems, nullable=True)
        inference = params.get("inference", DEFAULT_INFERENCE)
        if inference not in INFERENCE_MODES:
            problems.append(f"inference {inference!r} is not one of {', '.join(INFERENCE_MODES)}")
        elif inference == BATCH_TRANSFORM and not deploys:
            problems.append(
                f"inference {BATCH_TRANSFORM!r} runs a transform job on the run's own model; expected "
                "endpoint_name null (a reused endpoint detects with inference endpoint or auto)"
            )

        if problems:
            raise ParamsError(problems)
        policy = GatePolicy(
            threshold=threshold, min_score=min_score, class_thresholds=class_thresholds, labels=tuple(labels)
        )
        return cls(
            input_bucket=input_location[0],
            input_prefix=input_location[1],
            output_bucket=output_location[0],
            output_prefix=output_location[1],
            policy=policy,
            labels=tuple(labels),
            model_package_arn=model_package_arn,
            instance_type=instance_type,
            instance_count=instance_count,
            execution_role_arn=execution_role_arn,
            endpoint_name=endpoint_name,
            review_backend=review_backend,
            flow_definition_arn=flow_definition_arn,
            max_images=max_images,
            label_studio_project_id=label_studio_project_id,
            inference=inference,
        )

    def to_params(self) -> dict[str, Any]:
        """The checked config as the run's conf keys: `from_params` of it gives this config back.

        That makes the params the config's one serialised form (for XCom and summary.json).
        """
        return {
            "input_s3_uri": self.input_s3_uri,
            "output_s3_uri": self.output_s3_uri,
            "threshold": self.policy.threshold,
            "min_score": self.policy.min_score,
            "class_thresholds": dict(self.policy.class_thresholds),
            "labels": list(self.labels),
            "model_package_arn": self.model_package_arn,
            "instance_type": self.instance_type,
            "instance_count": self.instance_count,
            "execution_role_arn": self.execution_role_arn,
            "endpoint_name": self.endpoint_name,
            "review_backend": self.review_backend,
            "flow_definition_arn": self.flow_definition_arn,
            "label_studio_project_id": self.label_studio_project_id,
            "max_images": self.max_images,
            "inference": self.inference,
        }


def _location(params: Mapping[str, Any], name: str, problems: list[str]) -> tuple[str, str] | None:
    if params.get(name) is None:
        problems.append(f"{name} is missing; expected s3://bucket/prefix/")
        return None
    try:
        return parse_s3_uri(params[name], require_prefix_slash=True)
    except S3UriError as error:
        problems.append(f"{name}: {error}")
        return None


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _optional_name(
    params: Mapping[str, Any],
    name: str,
    pattern: str,
    expected: str,
    problems: list[str],
    required_reason: str | None = None,
) -> str | None:
    """A name or ARN that may be null (or blank, as a form sends it); checked against `pattern`."""
    value = params.get(name)
    if _blank(value):
        if required_reason:
            problems.append(f"{name} is required {required_reason}; expected {expected}")
        return None
    if isinstance(value, str):
        value = value.strip()
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        problems.append(f"{name} {value!r} is not {expected}")
        return None
    return value


def _integer(
    params: Mapping[str, Any], name: str, default: int | None, problems: list[str], *, nullable: bool
) -> int | None:
    value = params.get(name, default)
    if value is None and nullable:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        expected = "an integer >= 1 or null" if nullable else "an integer >= 1"
        problems.append(f"{name} {value!r} is not an integer; expected {expected}")
        return None
    if value < 1:
        problems.append(f"{name} {value} is below 1")
        return None
    return value
