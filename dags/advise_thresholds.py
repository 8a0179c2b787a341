"""advise_thresholds: per-label thresholds for detect_and_review, learnt from what reviewers kept."""

from airflow.sdk import DAG, Param

from hitl_detection.dag_builder.defaults import default_args
from hitl_detection.operators.advise import AdviseThresholdsOperator

S3_URI_PATTERN = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$"

DOC = """
### Advise `threshold` / `class_thresholds` from past runs' reviews

Every image a `detect_and_review` run sent to review shows, for each model box in it, whether the
reviewers kept it: a reviewer's box of its label overlaps it at IoU >= `match_iou` (0.5: kept as
it was or nudged, not deleted, relabelled or replaced). From those boxes the task estimates, per
label, how often a box at a given score is kept (a rate that never falls as the score rises), and
advises for each label the lowest threshold at which the boxes it accepts without review are kept
at least `target_precision` of the time: the lowest threshold sends the fewest images to review.
A label with fewer than `min_reviewed_boxes` reviewed boxes keeps the global `threshold`.

`results_s3_uris`: run output folders (`s3://.../results/<run>/`), prefixes holding several of
them, or `results.jsonl` files; each run's `summary.json` beside its results names its labels.
Under `output_s3_uri`, in a folder unique to this run (the task returns it):

- `advice.json`: `{"threshold": ..., "class_thresholds": {...}}`, to paste into the trigger form
  of `detect_and_review`;
- `advice.md`: the table (boxes, reviewed, kept, advised threshold and why, estimated precision
  there and at the global threshold, images sent to review now and with the advice) and notes;
- `plots/<label>.png`: score against the kept rate, with the advised threshold marked.

Only reviewed images show a box's fate: boxes of images accepted without review are assumed to be
kept as often as reviewed ones of the same label and score, and confident boxes are seen only
beside uncertain ones. The advice weighs precision, not recall: images no longer reviewed no
longer get the objects the model missed added by reviewers.
"""

with DAG(
    dag_id="advise_thresholds",
    schedule=None,
    catchup=False,
    max_active_runs=1,
    render_template_as_native_obj=True,  # the list and the numbers reach the operator as such
    default_args=default_args(),
    tags=["hitl-detection", "thresholds"],
    doc_md=DOC,
    params={
        "results_s3_uris": Param(
            ["s3://my-bucket/results/"],
            type="array",
            items={"type": "string", "pattern": S3_URI_PATTERN},
            minItems=1,
            title="Runs' results",
            description="Runs' output folders, prefixes holding them, or results.jsonl files (s3://...).",
        ),
        "output_s3_uri": Param(
            "s3://my-bucket/threshold-advice/",
            type="string",
            pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/(.*/)?$",
            title="Output location",
            description="s3://bucket/prefix/ under which the advice goes, in a folder per run.",
        ),
        "target_precision": Param(
            0.95,
            type="number",
            exclusiveMinimum=0,
            maximum=1,
            title="Target precision",
            description="How often the boxes accepted without review must be ones reviewers keep.",
        ),
        "threshold": Param(
            0.9,
            type="number",
            minimum=0,
            maximum=1,
            title="Global threshold",
            description="The global threshold: labels with too little review data keep it.",
        ),
        "match_iou": Param(
            0.5,
            type="number",
            exclusiveMinimum=0,
            maximum=1,
            title="IoU that keeps a box",
            description="A reviewer's box of the label at this IoU or more keeps a model box.",
        ),
        "min_reviewed_boxes": Param(
            30,
            type="integer",
            minimum=1,
            title="Reviewed boxes needed per label",
            description="Reviewed boxes a label needs for an advice of its own.",
        ),
        "aws_conn_id": Param("aws_default", type="string", minLength=1),
    },
) as dag:
    AdviseThresholdsOperator(
        task_id="advise_thresholds",
        aws_conn_id="{{ params.aws_conn_id }}",
        results_s3_uris="{{ params.results_s3_uris }}",
        output_s3_uri="{{ params.output_s3_uri }}",
        target_precision="{{ params.target_precision }}",
        threshold="{{ params.threshold }}",
        match_iou="{{ params.match_iou }}",
        min_reviewed_boxes="{{ params.min_reviewed_boxes }}",
    )
