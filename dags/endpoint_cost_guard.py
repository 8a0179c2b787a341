"""The Airflow DAG endpoint_cost_guard: every hour, remove the SageMaker endpoints (with their
configs and models) that runs of this deployment left behind, and stop the transform jobs they left
running."""

from datetime import UTC, datetime

from airflow.sdk import DAG

from hitl_detection.dag_builder.defaults import default_args
from hitl_detection.operators.cost_guard import RemoveLeftoverEndpointsOperator

DOC = """
### Remove the endpoints and transform jobs runs left behind

A `detect_and_review` run deletes its endpoint as soon as detection is over, and stops a transform
job still running. When that teardown never ran (the worker was killed, the run was marked failed
by hand) or failed, the endpoint or the job keeps billing. Every hour this DAG lists the transform
jobs `InProgress`, models, endpoint configs and endpoints named `hitl-*`, reads their tags, and
stops the jobs and deletes the rest, what bills first, of those that a run of **this** Airflow
deployment created when:

- that run is over (success or failed), or no longer known to Airflow; or
- their deadline has passed: `[hitl_detection] endpoint_deadline_seconds` (default one day)
  after their creation, even if the run is still going.

It never touches a resource without the project's tags (made by hand, an endpoint a run reused
through `endpoint_name`, or deployed before runs were tagged), nor one another deployment
deployed (`[hitl_detection] deployment_id`): it lists them in its log and its result
(`removed` and `left`, each with why). A delete or stop that fails fails the task, naming what
still bills and the command that removes it. Unpause it once; it needs `sagemaker:ListEndpoints`,
`ListEndpointConfigs`, `ListModels`, `ListTransformJobs` and `ListTags` besides the pipeline's own
permissions.
"""

with DAG(
    dag_id="endpoint_cost_guard",
    schedule="@hourly",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["hitl-detection", "sagemaker", "cost"],
    doc_md=DOC,
) as dag:
    RemoveLeftoverEndpointsOperator(task_id="remove_leftover_endpoints")
