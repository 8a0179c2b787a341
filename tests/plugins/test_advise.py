"""advise_thresholds against the stand-in: the DAG run from its own file with dag.test() on two runs'
results in S3, and AdviseThresholdsOperator.execute on bad input."""

from __future__ import annotations

import json

import pytest
from airflow.sdk.exceptions import AirflowFailException
from support import BUCKET, DAG_ID, INSTALLATION_ID, PROJECT_ROOT, RUN_ID, run_params, task_context

from hitl_detection.domain.boxes import Box
from hitl_detection.domain.gating import gate_detections
from hitl_detection.domain.naming import run_folder, run_key
from hitl_detection.domain.records import accepted_record, reviewed_record
from hitl_detection.domain.run_config import RunConfig
from hitl_detection.operators.advise import AdviseThresholdsOperator

pytestmark = pytest.mark.stack

CONFIG = RunConfig.from_params(run_params())  # labels car and person, threshold 0.9, min_score 0.2
SIZE = (640, 480)
REVIEW = {"backend": "a2i", "task": "loop"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def uri(name: str) -> str:
    return f"s3://{BUCKET}/images/{name}"


def car(score: float, left: int = 0) -> Box:
    return Box("car", left, 0, 40, 30, score)


def drawn(box: Box) -> Box:
    return Box(box.label, box.left + 1, box.top, box.width, box.height, source="human")


def a_run(first: int) -> list[dict]:
    """Reviewed images with a sure car the reviewer keeps and a doubtful one: at 0.5 deleted, at 0.7
    kept; images accepted with a car at 0.95; one reviewed person."""
    records = []
    for number in range(first, first + 4):
        for doubtful, kept in ((car(0.5, left=100), False), (car(0.7, left=100), True)):
            model = [car(0.95), doubtful]
            final = [drawn(box) for box in model if kept or box is not doubtful]
            decision = gate_detections(model, CONFIG.policy)
            records.append(
                reviewed_record(uri(f"{number}-{doubtful.score}.jpg"), decision, final, REVIEW, SIZE)
            )
        records.append(
            accepted_record(uri(f"{number}.jpg"), gate_detections([car(0.95)], CONFIG.policy), SIZE)
        )
    person = Box("person", 0, 0, 10, 30, 0.6)
    decision = gate_detections([person], CONFIG.policy)
    records.append(reviewed_record(uri(f"{first}-person.jpg"), decision, [drawn(person)], REVIEW, SIZE))
    return records


def put_run(s3, folder: str, records: list[dict], summary: bool = True) -> None:
    lines = "".join(json.dumps(record) + "\n" for record in records)
    s3.put_object(Bucket=BUCKET, Key=f"{folder}results.jsonl", Body=lines.encode())
    if summary:
        document = {"config": CONFIG.to_params(), "images": len(records)}
        s3.put_object(Bucket=BUCKET, Key=f"{folder}summary.json", Body=json.dumps(document).encode())


def read(s3, key: str) -> bytes:
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


@pytest.fixture
def dag(dag_from_source):
    return dag_from_source("advise_thresholds", (PROJECT_ROOT / "dags" / "advise_thresholds.py").read_text())


def test_a_run_advises_from_every_results_file_under_a_prefix_and_writes_advice_table_and_plots(
    aws, bucket, dag
):
    s3 = aws.client("s3")
    put_run(s3, "results/run-a/", a_run(0))
    put_run(s3, "results/run-b/", a_run(10))

    run = dag.test(
        run_conf={
            "results_s3_uris": [f"s3://{BUCKET}/results/"],
            "output_s3_uri": f"s3://{BUCKET}/advice/",
            "min_reviewed_boxes": 10,
        }
    )

    assert run.state == "success"
    folder = f"advice/{run_folder(run_key(INSTALLATION_ID, 'advise_thresholds', run.run_id))}/"
    returned = run.get_task_instance("advise_thresholds").xcom_pull(task_ids="advise_thresholds")
    assert returned == f"s3://{BUCKET}/{folder}"
    # 16 reviewed cars at 0.95 and 8 at 0.7 were kept, 8 at 0.5 deleted: 0.7 is the lowest
    # threshold whose cars are all kept. 2 reviewed persons are too few: they keep 0.9.
    assert json.loads(read(s3, f"{folder}advice.json")) == {
        "threshold": 0.9,
        "class_thresholds": {"car": 0.7},
    }
    table = read(s3, f"{folder}advice.md").decode()
    assert "| car | 40 | 32 | 24 | 0.7 | estimated | 1.000 | 1.000 |" in table
    assert "| person | 2 | 2 | 2 | 0.9 | too little data | - | - |" in table
    assert "Images: 26; sent to review by the runs: 18 (69.2%)" in table
    for label in ("car", "person"):
        assert read(s3, f"{folder}plots/{label}.png").startswith(PNG_SIGNATURE)


def advise(*results_s3_uris: str) -> str:
    operator = AdviseThresholdsOperator(
        task_id="advise_thresholds",
        results_s3_uris=list(results_s3_uris),
        output_s3_uri=f"s3://{BUCKET}/advice/",
    )
    return operator.execute(task_context())


def test_a_results_file_named_is_read_and_the_advice_is_written_again_in_place(aws, bucket):
    s3 = aws.client("s3")
    put_run(s3, "results/run-a/", a_run(0))

    first = advise(f"s3://{BUCKET}/results/run-a/results.jsonl")
    again = advise(f"s3://{BUCKET}/results/run-a/results.jsonl")

    folder = run_folder(run_key(INSTALLATION_ID, DAG_ID, RUN_ID))  # the task's run, as task_context has it
    assert first == again == f"s3://{BUCKET}/advice/{folder}/"
    # 12 reviewed cars (fewer than 30) and 1 person: no label has an advice of its own.
    assert json.loads(read(s3, f"advice/{folder}/advice.json")) == {
        "threshold": 0.9,
        "class_thresholds": {},
    }


@pytest.mark.parametrize(
    ("setup", "given", "message"),
    [
        (lambda s3: None, "results/", "no results.jsonl under s3://hitl-runs/results/"),
        (lambda s3: None, "results/run-a", "names neither a results.jsonl nor a prefix ending with '/'"),
        (
            lambda s3: put_run(s3, "results/run-a/", a_run(0), summary=False),
            "results/",
            "s3://hitl-runs/results/run-a/summary.json is missing: the labels of the run beside it",
        ),
        (
            lambda s3: put_run(s3, "results/run-a/", [a_run(0)[0], {"status": "lost"}]),
            "results/run-a/results.jsonl",
            "s3://hitl-runs/results/run-a/results.jsonl, line 2: record for None has status 'lost'",
        ),
    ],
)
def test_bad_input_fails_the_task_naming_what_is_wrong(aws, bucket, setup, given, message):
    setup(aws.client("s3"))

    with pytest.raises(AirflowFailException, match=message):
        advise(f"s3://{BUCKET}/{given}")
