"""No log line, XCom value or result record of a run carries the connection's secret key or the
signature of a presigned URL.

A demo-like pair of runs (review_workflow_setup, then detect_and_review with its flow definition)
on a connection whose secret key is a distinctive string. Presigned URLs are in play: the setup's
render check gets the worker template back with the sample image as a presigned URL (A2I's
`grant_read_access`). Everything a person or a downstream tool can read afterwards is gathered:
the task logs (dag.test() writes them to stdout), every XCom value, rendered template field,
audit log entry and asset event of the runs, and every object the run wrote under its output
prefix.
"""

from __future__ import annotations

import json
import os

from fault_world import Reviewers
from invariants import check_run, task_states
from pipeline_world import BUCKET
from secret_leaks import SIGNATURE, assert_nowhere, stored_by_airflow, written_under

SECRET_KEY = "Canary+Secret/Key-7f3a9c1e5b2d8046"


def test_no_log_xcom_or_record_carries_the_secret_key_or_a_presigned_signature(
    world, dag_bag, monkeypatch, capsys, on_botocore_event
):
    connection = json.loads(os.environ["AIRFLOW_CONN_AWS_DEFAULT"])
    connection["password"] = SECRET_KEY
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))
    rendered: list[str] = []
    on_botocore_event(
        "after-call.sagemaker.RenderUiTemplate",
        lambda parsed, **_: rendered.append(parsed.get("RenderedContent", "")),
    )

    setup = dag_bag.get_dag("review_workflow_setup").test(
        run_conf={
            "workteam_arn": "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/reviewers",
            "role_arn": "arn:aws:iam::123456789012:role/a2i-reviews",
            "s3_output_path": f"s3://{BUCKET}/a2i-output/",
        }
    )
    assert setup.state == "success", task_states(setup)
    flow = setup.get_task_instance("ensure_flow_definition").xcom_pull(task_ids="ensure_flow_definition")
    with Reviewers(world).running():
        run = dag_bag.get_dag("detect_and_review").test(run_conf=world.conf(flow_definition_arn=flow))
    assert run.state == "success", task_states(run)
    outcome = check_run(world.stack, run)

    # The controls: a presigned URL did come back to a task, and the gathering finds what it should.
    assert any(SIGNATURE.search(content) for content in rendered), rendered
    captured = capsys.readouterr()
    logs = captured.out + captured.err
    assert "Results published under" in logs
    airflow_texts = stored_by_airflow(("review_workflow_setup", "detect_and_review"))
    assert any(outcome.plan.layout.folder in text for text in airflow_texts)
    files = written_under(world.client("s3"), BUCKET, "results/")
    assert outcome.plan.layout.results_key in files

    places = {"the task logs": logs, **{f"s3://{BUCKET}/{key}": text for key, text in files.items()}}
    places |= {f"Airflow's database ({text[:60]}...)": text for text in airflow_texts}
    assert_nowhere(SECRET_KEY, places)
