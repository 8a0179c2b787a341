"""The detect-and-review pipeline, built once for the DAG triggered by hand and its scheduled sibling.

Read top to bottom: plan and list (refuse bad input before money is spent), deploy (setup),
detect and gate (one task, at the endpoint's bound, or over Batch Transform jobs whose wait holds
no worker), delete the endpoint (teardown, before anyone waits for humans), start reviews, wait
for them without a worker, collect, publish. The number of task instances of a run is the same at
any number of images, and in both inference modes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import DAG, TriggerRule, chain

from hitl_detection.assets import RESULTS_ASSET, TRAINING_SET_ASSETS
from hitl_detection.dag_builder.defaults import default_args, prices_file, setting_int, setting_seconds
from hitl_detection.dag_builder.params import detect_and_review_params
from hitl_detection.domain.inference import DEFAULT_BATCH_TRANSFORM_ABOVE
from hitl_detection.domain.run_plan import DEFAULT_ENDPOINT_DEADLINE
from hitl_detection.operators.collect_reviews import CollectReviewsOperator
from hitl_detection.operators.deploy import (
    DeployEndpointConfigOperator,
    DeployEndpointOperator,
    DeployModelOperator,
)
from hitl_detection.operators.detect import DetectObjectsOperator
from hitl_detection.operators.list_images import ListImagesOperator
from hitl_detection.operators.plan import DEFAULT_CONCURRENCY_PER_INSTANCE, PlanRunOperator
from hitl_detection.operators.publish import PublishResultsOperator
from hitl_detection.operators.start_reviews import StartReviewsOperator
from hitl_detection.operators.teardown import SageMakerEndpointLeftCheck, SageMakerEndpointTeardownOperator
from hitl_detection.sensors.reviews import DEFAULT_MISSING_GRACE_SECONDS, ReviewsSensor

# Downstream DAGs can be scheduled on these; each event's extra names the run's file.
PUBLISHED_ASSETS = (RESULTS_ASSET, *TRAINING_SET_ASSETS)
# The tasks whose results say when the run's inference instances billed (`billed_from`, `billed_until`).
BILLING_TASK_IDS = ("deploy_endpoint", "delete_endpoint", "detect_objects")
# Longer than an A2I task can stay open (review_workflow_setup's defaults: 10 days to be picked up,
# then an hour to finish), so unanswered loops end as Expired data. A shorter one is a deadline:
# the answers given by then are published, the loops still open are stopped. The sensor defers, so
# the wait holds no worker.
REVIEW_TIMEOUT = setting_seconds("review_timeout_seconds", fallback=11 * 24 * 3600)
REVIEW_POLL_INTERVAL = setting_seconds("review_poll_seconds", fallback=60)
# A review task missing from the backend's listing this long after the wait began is looked up:
# one deleted by someone ends as review_failed instead of holding up the wait.
REVIEW_MISSING_GRACE = setting_seconds("review_missing_grace_seconds", fallback=DEFAULT_MISSING_GRACE_SECONDS)
ENDPOINT_POLL_INTERVAL = setting_seconds("endpoint_poll_seconds", fallback=30)
CONCURRENCY_PER_INSTANCE = setting_int(
    "endpoint_concurrency_per_instance", fallback=DEFAULT_CONCURRENCY_PER_INSTANCE
)
# inference `auto` runs a Batch Transform job above this many images; the job's state is polled so often.
BATCH_TRANSFORM_ABOVE = setting_int("batch_transform_above_images", fallback=DEFAULT_BATCH_TRANSFORM_ABOVE)
TRANSFORM_POLL_INTERVAL = setting_seconds("transform_poll_seconds", fallback=60)
# endpoint_cost_guard removes what a run deployed this long after its creation, even mid-run.
ENDPOINT_DEADLINE = setting_seconds(
    "endpoint_deadline_seconds", fallback=int(DEFAULT_ENDPOINT_DEADLINE.total_seconds())
)


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
        interval = {
            "modified_after": "{{ data_interval_start }}" if incremental else None,
            "modified_before": "{{ data_interval_end }}" if incremental else None,
        }
        plan = PlanRunOperator(
            task_id="plan_run",
            conf_variable=conf_variable,
            concurrency_per_instance=CONCURRENCY_PER_INSTANCE,
            batch_transform_above=BATCH_TRANSFORM_ABOVE,
            endpoint_deadline=ENDPOINT_DEADLINE,
            **interval,
        )
        images = ListImagesOperator(task_id="list_images", plan=plan.output, **interval)

        # Setup: the endpoint (each step does nothing when the run reuses an endpoint; in transform
        # mode only the model is created).
        deploy_model = DeployModelOperator(task_id="deploy_model", plan=plan.output)
        deploy_endpoint_config = DeployEndpointConfigOperator(
            task_id="deploy_endpoint_config", plan=plan.output
        )
        deploy_endpoint = DeployEndpointOperator(
            task_id="deploy_endpoint", plan=plan.output, check_interval=ENDPOINT_POLL_INTERVAL.total_seconds()
        )

        # Body: detection, gated as each answer arrives (or, in transform mode, as the job's
        # outputs are read once it is over; the wait for the job holds no worker).
        detect = DetectObjectsOperator(
            task_id="detect_objects", plan=plan.output, poll_interval=TRANSFORM_POLL_INTERVAL.total_seconds()
        )

        # Teardown: as soon as detection is over, whatever happened, before anyone waits for humans.
        delete_endpoint = SageMakerEndpointTeardownOperator(
            task_id="delete_endpoint", plan=plan.output
        ).as_teardown(
            setups=[deploy_model, deploy_endpoint_config, deploy_endpoint], on_failure_fail_dagrun=True
        )
        # Runs only when the teardown did not succeed: the reviews go on after it whatever its state,
        # so this last task fails the run, naming what still bills and how to delete it.
        check_endpoint_deleted = SageMakerEndpointLeftCheck(
            task_id="check_endpoint_deleted", plan=plan.output, trigger_rule=TriggerRule.ONE_FAILED
        )

        # Review: start a task per uncertain image, wait without a worker, collect, publish.
        start_reviews = StartReviewsOperator(task_id="start_reviews", plan=plan.output)
        # The wait begins once the teardown is over, failed or not: a failed delete fails the run
        # (check_endpoint_deleted) but never costs the reviewers' answers. It is skipped with a run
        # that had nothing to do, and fails by itself when start_reviews did not succeed.
        wait_for_reviews = ReviewsSensor(
            task_id="wait_for_reviews",
            plan=plan.output,
            started=start_reviews.output,
            poke_interval=REVIEW_POLL_INTERVAL.total_seconds(),
            timeout=REVIEW_TIMEOUT.total_seconds(),
            missing_grace=REVIEW_MISSING_GRACE.total_seconds(),
            trigger_rule=TriggerRule.NONE_SKIPPED,
        )
        collect = CollectReviewsOperator(
            task_id="collect_reviews", plan=plan.output, waited=wait_for_reviews.output
        )
        publish = PublishResultsOperator(
            task_id="publish_results",
            plan=plan.output,
            prices_file=prices_file(),
            billing_task_ids=BILLING_TASK_IDS,
            outlets=list(PUBLISHED_ASSETS),
        )

        chain(
            plan,
            images,
            deploy_model,
            deploy_endpoint_config,
            deploy_endpoint,
            detect,
            delete_endpoint,
        )
        chain(detect, start_reviews, wait_for_reviews, collect, publish)
        delete_endpoint >> [wait_for_reviews, check_endpoint_deleted]
    return dag
