"""The detect-and-review pipeline, built once for the DAG triggered by hand and its scheduled sibling.

Read top to bottom: plan and list (refuse bad input before money is spent), deploy (setup),
detect and gate per batch, delete the endpoint (teardown, before anyone waits for humans),
start reviews, wait for them without a worker, collect, publish.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import DAG, Asset, chain, task

from hitl_detection.dag_defaults import default_args, setting_seconds
from hitl_detection.operators.collect import CollectReviewsOperator
from hitl_detection.operators.deployment import (
    DeployEndpointConfigOperator,
    DeployEndpointOperator,
    DeployModelOperator,
)
from hitl_detection.operators.detection import DetectObjectsOperator
from hitl_detection.operators.endpoint_teardown import SageMakerEndpointTeardownOperator
from hitl_detection.operators.gate import ThresholdGateOperator
from hitl_detection.operators.list_images import ListImagesOperator
from hitl_detection.operators.plan import PlanRunOperator
from hitl_detection.operators.publish import PublishResultsOperator
from hitl_detection.operators.start_reviews import StartReviewsOperator
from hitl_detection.params import detect_and_review_params
from hitl_detection.sensors.reviews import ReviewsSensor

# Downstream DAGs can be scheduled on this; the event's extra names the run's results file.
RESULTS_ASSET = Asset(name="hitl_detection_results", uri="hitl-detection://detect_and_review/results")
# Longer than an A2I task can stay open (review_workflow_setup's defaults: 10 days to be picked up,
# then an hour to finish), so unanswered loops end as Expired data, not as a sensor timeout. The
# sensor defers, so the wait holds no worker.
REVIEW_TIMEOUT = setting_seconds("review_timeout_seconds", fallback=11 * 24 * 3600)
REVIEW_POLL_INTERVAL = setting_seconds("review_poll_seconds", fallback=60)


@task.short_circuit(ignore_downstream_trigger_rules=False)
def any_images(batches: list[int]) -> bool:
    """A scheduled run with no new image deploys nothing and does nothing."""
    return bool(batches)


def build_detect_and_review_dag(
    *,
    dag_id: str,
    doc_md: str,
    tags: list[str],
    schedule: Any = None,
    start_date: datetime | None = None,
    incremental: bool = False,
    conf_variable: str | None = None,
) -> DAG:
    """`incremental` runs take only the images that arrived in their data interval."""
    with DAG(
        dag_id=dag_id,
        schedule=schedule,
        start_date=start_date,
        catchup=False,
        max_active_runs=1 if incremental else 16,
        params=detect_and_review_params(),
        default_args=default_args(),
        tags=tags,
        doc_md=doc_md,
    ) as dag:
        # Plan: refuse bad input before anything is paid for.
        plan = PlanRunOperator(task_id="plan_run", conf_variable=conf_variable)
        images = ListImagesOperator(
            task_id="list_images",
            plan=plan.output,
            modified_after="{{ data_interval_start }}" if incremental else None,
            modified_before="{{ data_interval_end }}" if incremental else None,
        )
        has_images = any_images(images.output)

        # Setup: the endpoint (each step does nothing when the run reuses an endpoint).
        deploys = plan.output["deploy"]
        deploy_model = DeployModelOperator(
            task_id="deploy_model", config=plan.output["model"], deploy=deploys
        )
        deploy_endpoint_config = DeployEndpointConfigOperator(
            task_id="deploy_endpoint_config", config=plan.output["endpoint_config"], deploy=deploys
        )
        deploy_endpoint = DeployEndpointOperator(
            task_id="deploy_endpoint",
            config=plan.output["endpoint"],
            deploy=deploys,
            wait_for_completion=True,
            check_interval=15,
        )

        # Body: detection per batch.
        detect = DetectObjectsOperator.partial(task_id="detect_objects", plan=plan.output).expand(
            batch=images.output
        )
        gate = ThresholdGateOperator.partial(task_id="gate_detections", plan=plan.output).expand(
            batch=images.output
        )

        # Teardown: as soon as detection is over, whatever happened, before anyone waits for humans.
        delete_endpoint = SageMakerEndpointTeardownOperator(
            task_id="delete_endpoint",
            endpoint_name=plan.output["endpoint_name"],
            endpoint_config_name=plan.output["endpoint_config_name"],
            model_name=plan.output["model_name"],
            deployed_by_run=deploys,
        ).as_teardown(
            setups=[deploy_model, deploy_endpoint_config, deploy_endpoint], on_failure_fail_dagrun=True
        )

        # Review: start a task per uncertain image, wait without a worker, collect, publish.
        start_reviews = StartReviewsOperator.partial(task_id="start_reviews", plan=plan.output).expand(
            batch=images.output
        )
        wait_for_reviews = ReviewsSensor(
            task_id="wait_for_reviews",
            plan=plan.output,
            started=start_reviews.output,
            poke_interval=REVIEW_POLL_INTERVAL.total_seconds(),
            timeout=REVIEW_TIMEOUT.total_seconds(),
        )
        collect = CollectReviewsOperator.partial(task_id="collect_reviews", plan=plan.output).expand(
            batch=images.output
        )
        publish = PublishResultsOperator(
            task_id="publish_results", plan=plan.output, batches=images.output, outlets=[RESULTS_ASSET]
        )

        chain(
            plan,
            images,
            has_images,
            deploy_model,
            deploy_endpoint_config,
            deploy_endpoint,
            detect,
            delete_endpoint,
        )
        chain(detect, gate, start_reviews, wait_for_reviews, collect, publish)
        delete_endpoint >> wait_for_reviews
    return dag
