"""The session's local AWS stand-in (tests/conftest.py), reset before each test that uses it, and
boto3 clients of it."""

import json
import os
from collections.abc import Callable

import pytest
from stack_helpers import (
    NO_CLIENT_CHECKS,
    OUTPUT_BUCKET,
    ROLE_ARN,
    TEMPLATE,
    WORKTEAM_ARN,
    task_input,
)

from local_aws.stack import StackProcess, reset
from local_aws.workflow import create_flow_definition, wait_until_active


@pytest.fixture
def clean_stack(stack: StackProcess) -> StackProcess:
    """The session's stand-in with no emulator state, nothing in moto and no armed fault."""
    reset(stack)
    return stack


@pytest.fixture(scope="session")
def sagemaker(stack: StackProcess):
    return stack.client("sagemaker")


@pytest.fixture(scope="session")
def a2i(stack: StackProcess):
    return stack.client("sagemaker-a2i-runtime")


@pytest.fixture(scope="session")
def runtime(stack: StackProcess):
    return stack.client("sagemaker-runtime")


@pytest.fixture(scope="session")
def s3(stack: StackProcess):
    return stack.client("s3")


@pytest.fixture(scope="session")
def raw_a2i(stack: StackProcess):
    return stack.client("sagemaker-a2i-runtime", NO_CLIENT_CHECKS)


@pytest.fixture(scope="session")
def raw_sagemaker(stack: StackProcess):
    return stack.client("sagemaker", NO_CLIENT_CHECKS)


@pytest.fixture
def task_ui_arn(clean_stack: StackProcess, sagemaker) -> str:
    return sagemaker.create_human_task_ui(HumanTaskUiName="boxes", UiTemplate={"Content": TEMPLATE})[
        "HumanTaskUiArn"
    ]


@pytest.fixture
def make_flow(clean_stack: StackProcess, sagemaker, s3, task_ui_arn: str) -> Callable[..., str]:
    """Create an Active flow definition writing to s3://a2i-output/reviews/; returns its ARN."""
    s3.create_bucket(Bucket=OUTPUT_BUCKET)

    def make(name: str = "review-boxes", task_count: int = 1, wait: bool = True) -> str:
        arn = create_flow_definition(
            sagemaker,
            name=name,
            ui_arn=task_ui_arn,
            s3_output_path=f"s3://{OUTPUT_BUCKET}/reviews/",
            task_count=task_count,
            role_arn=ROLE_ARN,
            workteam_arn=WORKTEAM_ARN,
        )
        if wait:
            wait_until_active(sagemaker, name)
        return arn

    return make


@pytest.fixture
def flow_arn(make_flow: Callable[..., str]) -> str:
    return make_flow()


@pytest.fixture
def start_loop(a2i, flow_arn: str) -> Callable[..., str]:
    """Start a loop of `flow_arn` with a valid input; returns its name."""

    def start(name: str = "loop-1", flow: str | None = None, **input_overrides) -> str:
        a2i.start_human_loop(
            HumanLoopName=name,
            FlowDefinitionArn=flow or flow_arn,
            HumanLoopInput={"InputContent": json.dumps(task_input(**input_overrides))},
        )
        return name

    return start


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A throwaway AIRFLOW_HOME unless the session already has one, set before Airflow is imported."""
    if not os.environ.get("AIRFLOW_HOME"):
        os.environ["AIRFLOW_HOME"] = str(tmp_path_factory.mktemp("airflow-home"))
    return os.environ["AIRFLOW_HOME"]
