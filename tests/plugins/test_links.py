"""The Airflow UI's links from a task to what it made: the SageMaker resources of the deploy tasks,
the reviews of the wait (A2I or Label Studio), the run's folder (tests/plugins/test_publish.py).
Against the stand-in they open its own pages; on a connection to AWS, the AWS console's."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook
from airflow.sdk.exceptions import TaskDeferred
from support import FLOW_DEFINITION_ARN, TO_REVIEW, image_row, make_plan, task_context, write_shards

from hitl_detection.operators.deploy import (
    DeployEndpointConfigOperator,
    DeployEndpointOperator,
    DeployModelOperator,
)
from hitl_detection.operators.links import (
    ReviewsLink,
    RunFolderLink,
    SageMakerConsoleLink,
    s3_folder_url,
    sagemaker_resource_url,
)
from hitl_detection.operators.start_reviews import StartReviewsOperator
from hitl_detection.review.a2i import A2IReviewBackend
from hitl_detection.review.base import Connections
from hitl_detection.review.labelstudio import LabelStudioReviewBackend
from hitl_detection.sensors.reviews import ReviewsSensor

AWS_CONN = "aws_console_test"  # a connection to AWS itself: no endpoint_url


@pytest.fixture
def aws_itself(monkeypatch) -> str:
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{AWS_CONN.upper()}",
        json.dumps({"conn_type": "aws", "extra": {"region_name": "eu-west-1"}}),
    )
    return AWS_CONN


def test_each_deploy_task_links_the_stand_ins_view_of_what_it_deployed(aws):
    plan = make_plan()
    for step in (
        DeployModelOperator(task_id="deploy_model", plan=plan.to_xcom()),
        DeployEndpointConfigOperator(task_id="deploy_endpoint_config", plan=plan.to_xcom()),
        DeployEndpointOperator(task_id="deploy_endpoint", plan=plan.to_xcom()),
    ):
        context = task_context()
        step.execute(context)

        assert step.operator_extra_links == (SageMakerConsoleLink(),)
        assert context["ti"].pushed == {SageMakerConsoleLink.key: f"{aws.moto_url}/moto-api/"}


def test_a_run_reusing_an_endpoint_links_nothing_it_did_not_deploy(aws):
    context = task_context()

    DeployEndpointOperator(task_id="deploy_endpoint", plan=make_plan(endpoint_name="team").to_xcom()).execute(
        context
    )

    assert context["ti"].pushed == {}


@pytest.mark.parametrize(
    ("kind", "page"), [("model", "models"), ("endpoint config", "endpointConfig"), ("endpoint", "endpoints")]
)
def test_on_aws_a_deployed_resource_links_its_sagemaker_console_page(aws_itself, kind, page):
    url = sagemaker_resource_url(SageMakerHook(aws_conn_id=aws_itself), kind, "hitl-run-1")

    assert url == f"https://console.aws.amazon.com/sagemaker/home?region=eu-west-1#/{page}/hitl-run-1"


def test_on_aws_the_run_folder_is_its_page_in_the_s3_console(aws_itself):
    url = s3_folder_url(S3Hook(aws_conn_id=aws_itself), "hitl-runs", "results/run-1/")

    assert url == (
        "https://console.aws.amazon.com/s3/buckets/hitl-runs?region=eu-west-1&prefix=results%2Frun-1%2F"
        "&showversions=false"
    )


def test_the_wait_links_the_loops_while_it_waits(aws, flow_definition, bucket):
    plan = make_plan()
    write_shards(plan, "detections", [[image_row("a.jpg", TO_REVIEW)]])
    started = StartReviewsOperator(task_id="start_reviews", plan=plan.to_xcom()).execute(task_context())
    sensor = ReviewsSensor(task_id="wait_for_reviews", plan=plan.to_xcom(), started=started)
    context = task_context()

    with pytest.raises(TaskDeferred):
        sensor.execute(context)

    assert sensor.operator_extra_links == (ReviewsLink(),)
    assert context["ti"].pushed == {ReviewsLink.key: f"{aws.emulator_url}/reviewer/loops?status=all"}


def test_on_aws_the_a2i_loops_are_the_flow_definitions_page_in_the_a2i_console(aws_itself):
    backend = A2IReviewBackend(
        {"flow_definition_arn": FLOW_DEFINITION_ARN}, Connections(aws_conn_id=aws_itself)
    )
    scope = backend.progress_scope("run-1", started_after=datetime(2026, 1, 1, tzinfo=UTC))

    assert backend.console_url(scope) == (
        "https://console.aws.amazon.com/a2i/home?region=us-east-1#/human-review-workflows/review-boxes"
    )


def test_label_studio_tasks_are_the_projects_data_manager(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_LABEL_STUDIO_DEFAULT",
        json.dumps({"conn_type": "http", "host": "https://labels.example.com", "password": "token-123456"}),
    )
    backend = LabelStudioReviewBackend({"project_id": 7}, Connections())

    url = backend.console_url(backend.progress_scope("run-1", started_after=datetime(2026, 1, 1, tzinfo=UTC)))

    assert url == "https://labels.example.com/projects/7/data"


def test_a_link_that_cannot_be_worked_out_is_logged_and_never_fails_the_task(caplog):
    context = task_context()

    def broken() -> str:
        raise ValueError("no region")

    with caplog.at_level(logging.WARNING):
        RunFolderLink.persist(context, broken)

    assert context["ti"].pushed == {}
    assert "No 'Run folder in S3' link for this task" in caplog.text
