"""The Airflow DAG endpoint_cost_guard: every hour, remove the SageMaker endpoints (with their
configs and models) that runs of this deployment left behind."""

from datetime import UTC, datetime

from airflow.sdk import DAG

from hitl_detection.dag_builder.defaults import default_args
from hitl_detection.operators.cost_guard import RemoveLeftoverEndpointsOperator

DOC = """
### Remove the endpoints runs left behind

A `detect_and_review` run deletes its endpoint as soon as detection is over. When that teardown
never ran (the worker was killed, the run was marked failed by hand) or failed, the endpoint
keeps billing. Every hour this DAG lists the models, endpoint configs and endpoints named
`hitl-*`, reads their tags, and deletes, endpoint first, those that a run of **this** Airflow
deployment deployed when:

- that run is over (success or failed), or no longer known to Airflow; or
- their deadline has passed: `[hitl_detection] endpoint_deadline_seconds` (default one day)
  after their creation, even if the run is still going.

It never touches a resource without the project's tags (made by hand, an endpoint a run reused
through `endpoint_name`, or deployed before runs were tagged), nor one another deployment
deployed (`[hitl_detection] deployment_id`): it lists them in its log and its result
(`removed` and `left`, each with why). A delete that fails fails the task, naming what still
bills and the command that deletes it. Unpause it once; it needs `sagemaker:ListEndpoints`,
`ListEndpointConfigs`, `ListModels` and `ListTags` besides the pipeline's own permissions.
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
