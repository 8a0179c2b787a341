"""The Airflow DAG detect_and_review_daily: the same pipeline, daily, on the images that arrived that day."""

from datetime import UTC, datetime

from airflow.sdk import CronDataIntervalTimetable

from hitl_detection.dag_builder.pipeline import build_detect_and_review_dag

CONF_VARIABLE = "detect_and_review_daily"

DOC = f"""
### Detect and review the images that arrived since the previous run

The pipeline of `detect_and_review`, on a daily schedule. Each run takes only the images whose
S3 `LastModified` falls in its data interval, so consecutive runs never process an image twice;
a day without new images deploys nothing and does nothing.

Scheduled runs have no trigger form: set the Airflow Variable `{CONF_VARIABLE}` to a JSON object
of the same params as `detect_and_review` (at least `input_s3_uri`, `output_s3_uri`,
`execution_role_arn` and `flow_definition_arn`); its values take precedence over the defaults.
"""

dag = build_detect_and_review_dag(
    dag_id="detect_and_review_daily",
    doc_md=DOC,
    tags=["hitl-detection", "sagemaker", "a2i", "scheduled"],
    # Data intervals [midnight, next midnight): "@daily" alone gives zero-length intervals in
    # Airflow 3, which would select no image.
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    incremental=True,
    conf_variable=CONF_VARIABLE,
)
