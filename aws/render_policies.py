"""Fill the placeholders of the IAM policies and the CORS rule in aws/ with your account's values.

    python aws/render_policies.py --account-id 111122223333 --region us-east-1 \\
        --input-bucket my-images --output-bucket my-results --a2i-output-bucket my-reviews \\
        --out ~/hitl-aws [--reuse-endpoint NAME ...]

writes every document of aws/iam/ and aws/s3/ to --out, ready for `aws iam ... file://...`.
Without --reuse-endpoint the statement that lets runs use endpoints not named `hitl-*` is left
out; each --reuse-endpoint adds one endpoint to it. Standard library only.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

AWS_DIR = Path(__file__).resolve().parent
TEMPLATE_DIRS = ("iam", "s3")
PLACEHOLDER = re.compile(r"<[A-Z0-9_]+>")
REUSED_ENDPOINT_SID = "UseReusedEndpoints"
REUSED_ENDPOINT = "<REUSED_ENDPOINT>"
DEFAULT_EXECUTION_ROLE_NAME = "hitl-sagemaker-execution"
DEFAULT_A2I_ROLE_NAME = "hitl-a2i-review"

_ACCOUNT_ID = r"\d{12}"
_REGION = r"[a-z]{2}(-[a-z]+)+-\d+"
_BUCKET = r"(?!xn--)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"
_ROLE_NAME = r"([A-Za-z0-9_+=,.@-]+/)*[A-Za-z0-9_+=,.@-]{1,64}"
_ENDPOINT_NAME = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"


@dataclass(frozen=True)
class Values:
    """What replaces each placeholder; reused endpoints fill the UseReusedEndpoints statement."""

    account_id: str
    region: str
    input_bucket: str
    output_bucket: str
    a2i_output_bucket: str
    execution_role_name: str = DEFAULT_EXECUTION_ROLE_NAME
    a2i_role_name: str = DEFAULT_A2I_ROLE_NAME
    reused_endpoints: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        problems = [
            f"{name} {value!r} is not {expected}"
            for name, value, pattern, expected in (
                ("account_id", self.account_id, _ACCOUNT_ID, "a 12-digit AWS account id"),
                ("region", self.region, _REGION, "an AWS region such as us-east-1"),
                ("input_bucket", self.input_bucket, _BUCKET, "an S3 bucket name"),
                ("output_bucket", self.output_bucket, _BUCKET, "an S3 bucket name"),
                ("a2i_output_bucket", self.a2i_output_bucket, _BUCKET, "an S3 bucket name"),
                ("execution_role_name", self.execution_role_name, _ROLE_NAME, "an IAM role name"),
                ("a2i_role_name", self.a2i_role_name, _ROLE_NAME, "an IAM role name"),
                *(
                    ("reused endpoint", name, _ENDPOINT_NAME, "a SageMaker endpoint name")
                    for name in self.reused_endpoints
                ),
            )
            if not isinstance(value, str) or not re.fullmatch(pattern, value)
        ]
        if problems:
            raise ValueError("; ".join(problems))

    def replacements(self) -> dict[str, str]:
        return {
            "<ACCOUNT_ID>": self.account_id,
            "<REGION>": self.region,
            "<INPUT_BUCKET>": self.input_bucket,
            "<OUTPUT_BUCKET>": self.output_bucket,
            "<A2I_OUTPUT_BUCKET>": self.a2i_output_bucket,
            "<EXECUTION_ROLE_NAME>": self.execution_role_name,
            "<A2I_ROLE_NAME>": self.a2i_role_name,
        }


def template_paths() -> list[Path]:
    """Every document in aws/iam/ and aws/s3/, in name order."""
    return sorted(path for folder in TEMPLATE_DIRS for path in (AWS_DIR / folder).glob("*.json"))


def render(document: dict[str, Any], values: Values) -> dict[str, Any]:
    """The document with every placeholder replaced; raises if one is left that `values` cannot fill."""
    document = copy.deepcopy(document)
    statements = document.get("Statement")
    if isinstance(statements, list):
        document["Statement"] = [
            rendered for statement in statements if (rendered := _reused_endpoints(statement, values))
        ]
    rendered = _replace(document, values.replacements())
    left = sorted(set(PLACEHOLDER.findall(json.dumps(rendered))))
    if left:
        raise ValueError(f"placeholders {', '.join(left)} have no value")
    return rendered


def render_all(values: Values) -> dict[str, dict[str, Any]]:
    """File name -> rendered document, for every template."""
    return {path.name: render(json.loads(path.read_text()), values) for path in template_paths()}


def _reused_endpoints(statement: dict[str, Any], values: Values) -> dict[str, Any] | None:
    """The reused-endpoints statement names one ARN per reused endpoint, or goes when there is none.

    SageMaker keeps endpoint names in lowercase in its ARNs, which is what IAM compares with.
    """
    if statement.get("Sid") != REUSED_ENDPOINT_SID:
        return statement
    if not values.reused_endpoints:
        return None
    (template,) = statement["Resource"]
    resources = [template.replace(REUSED_ENDPOINT, name.lower()) for name in values.reused_endpoints]
    return {**statement, "Resource": list(dict.fromkeys(resources))}


def _replace(value: Any, replacements: dict[str, str]) -> Any:
    if isinstance(value, str):
        for placeholder, replacement in replacements.items():
            value = value.replace(placeholder, replacement)
        return value
    if isinstance(value, list):
        return [_replace(item, replacements) for item in value]
    if isinstance(value, dict):
        return {key: _replace(item, replacements) for key, item in value.items()}
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python aws/render_policies.py",
        description="Write the project's IAM policies and CORS rule with your values filled in.",
    )
    parser.add_argument("--account-id", required=True, help="your 12-digit AWS account id")
    parser.add_argument("--region", required=True, help="the region of the endpoint and A2I, e.g. us-east-1")
    parser.add_argument("--input-bucket", required=True, help="the bucket of input_s3_uri (images)")
    parser.add_argument("--output-bucket", required=True, help="the bucket of output_s3_uri (results)")
    parser.add_argument(
        "--a2i-output-bucket", required=True, help="the bucket of s3_output_path (reviewers' answers)"
    )
    parser.add_argument("--execution-role-name", default=DEFAULT_EXECUTION_ROLE_NAME)
    parser.add_argument("--a2i-role-name", default=DEFAULT_A2I_ROLE_NAME)
    parser.add_argument(
        "--reuse-endpoint",
        action="append",
        default=[],
        metavar="NAME",
        help="an endpoint not named hitl-* that runs may reuse (endpoint_name); repeatable",
    )
    parser.add_argument("--out", required=True, type=Path, help="the folder to write the documents to")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        values = Values(
            account_id=args.account_id,
            region=args.region,
            input_bucket=args.input_bucket,
            output_bucket=args.output_bucket,
            a2i_output_bucket=args.a2i_output_bucket,
            execution_role_name=args.execution_role_name,
            a2i_role_name=args.a2i_role_name,
            reused_endpoints=tuple(args.reuse_endpoint),
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    for name, document in render_all(values).items():
        path = args.out / name
        path.write_text(json.dumps(document, indent=2) + "\n")
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
