"""review_workflow_setup, run for real with dag.test() against the local stand-in."""

import importlib.util

import pytest
from airflow.sdk.exceptions import ParamValidationError

pytestmark = pytest.mark.stack

ROLE_ARN = "arn:aws:iam::123456789012:role/a2i-reviews"


@pytest.fixture(scope="module")
def dag(project_root):
    path = project_root / "dags" / "review_workflow_setup.py"
    spec = importlib.util.spec_from_file_location("review_workflow_setup_dag", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


@pytest.fixture
def run_conf(aws):
    return {
        "workteam_arn": f"arn:aws:sagemaker:{aws.region}:123456789012:workteam/private-crowd/reviewers",
        "role_arn": ROLE_ARN,
        "s3_output_path": "s3://a2i-output/reviews/",
        "task_count": 2,
    }


def returned_arn(dag_run) -> str:
    return dag_run.get_task_instance("ensure_flow_definition").xcom_pull(task_ids="ensure_flow_definition")


def test_a_first_run_creates_the_workflow_and_a_second_run_reuses_it(airflow_db, aws, dag, run_conf, capfd):
    first = dag.test(run_conf=run_conf)

    assert first.state == "success"
    arn = returned_arn(first)
    assert arn.endswith(":flow-definition/hitl-detection-review")
    sagemaker = aws.client("sagemaker")
    flow = sagemaker.describe_flow_definition(FlowDefinitionName="hitl-detection-review")
    assert flow["FlowDefinitionStatus"] == "Active"
    assert flow["HumanLoopConfig"]["TaskCount"] == 2
    task_ui = sagemaker.describe_human_task_ui(HumanTaskUiName="hitl-detection-bounding-box-v1")
    assert flow["HumanLoopConfig"]["HumanTaskUiArn"] == task_ui["HumanTaskUiArn"]
    first_log = capfd.readouterr().out
    assert f"Human task UI {task_ui['HumanTaskUiArn']}: created." in first_log
    assert f"Flow definition {arn}: created." in first_log

    second = dag.test(run_conf=run_conf)

    assert second.state == "success"
    assert returned_arn(second) == arn
    second_log = capfd.readouterr().out
    assert f"Human task UI {task_ui['HumanTaskUiArn']}: reused, it already existed." in second_log
    assert f"Flow definition {arn}: reused, it already existed." in second_log


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("task_count", 4),
        ("role_arn", "a2i-reviews"),
        ("s3_output_path", "https://a2i-output/reviews/"),
        ("labels", [f"label-{number}" for number in range(11)]),
    ],
)
def test_a_bad_param_is_refused_before_any_task_runs(airflow_db, aws, dag, run_conf, param, value):
    with pytest.raises(ParamValidationError, match=f"Invalid input for param {param}:"):
        dag.test(run_conf={**run_conf, param: value})

    assert aws.client("sagemaker").list_human_task_uis()["HumanTaskUiSummaries"] == []
