"""The Airflow DAG export_training_set: one training set (COCO, YOLO, Ground Truth manifest) from
the answers of several past detect_and_review runs."""

from airflow.sdk import DAG, Param

from hitl_detection.assets import TRAINING_SET_ASSETS
from hitl_detection.dag_builder.defaults import default_args
from hitl_detection.operators.export_training_set import ExportTrainingSetOperator

DOC = """
### Export one training set from several runs

Every `detect_and_review` run writes its own training sets beside its `results.jsonl`
(`exports/coco.json`, `exports/yolo/`, `exports/manifest.jsonl`). This DAG makes one from many
runs: name them in `results_s3_uris`, by their `results.jsonl` or by prefixes holding them (a
run's folder, or the `output_s3_uri` of `detect_and_review` for all its runs), and where to write
in `output_s3_uri`.

Runs are read newest first, by when they published: an image's newest **accepted** or
**reviewed** answer is the one exported, and an image without one (an error, a failed review, in
every run) is listed in `excluded.jsonl` with its newest reason. Class ids follow the runs'
labels, the oldest run's first, and `yolo/classes.txt` and the COCO categories name them.

The files go to a folder of this DAG run's own under `output_s3_uri`, and the three training-set
assets (`hitl_detection_coco`, `hitl_detection_yolo`, `hitl_detection_ground_truth_manifest`) are
updated with their locations, for a retraining DAG to be scheduled on.
"""

with DAG(
    dag_id="export_training_set",
    schedule=None,
    catchup=False,
    default_args=default_args(),
    tags=["hitl-detection", "training-set"],
    doc_md=DOC,
    # The list of runs reaches the operator as a list, not as its text.
    render_template_as_native_obj=True,
    params={
        "results_s3_uris": Param(
            ["s3://my-bucket/results/"],
            type="array",
            items={"type": "string", "pattern": r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$"},
            minItems=1,
            title="Runs' results",
            description="Runs' output folders, prefixes holding them, or results.jsonl files (s3://...).",
        ),
        "output_s3_uri": Param(
            "s3://my-bucket/training-sets/",
            type="string",
            pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/(.*/)?$",
            title="Output location",
            description="s3://bucket/prefix/ under which the training set goes, in a folder per run.",
        ),
    },
) as dag:
    ExportTrainingSetOperator(
        task_id="export_training_set",
        results_s3_uris="{{ params.results_s3_uris }}",
        output_s3_uri="{{ params.output_s3_uri }}",
        outlets=list(TRAINING_SET_ASSETS),
    )
