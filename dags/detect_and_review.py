"""The Airflow DAG detect_and_review: detect objects in S3 images, review the uncertain ones, publish.

(Airflow's safe mode parses only files that name both "airflow" and "dag"; this docstring does.)
"""

from hitl_detection.dag_builder.pipeline import build_detect_and_review_dag

DOC = """
### Detect objects, review the uncertain ones, publish one result per image

Trigger with the form. The run:

1. checks the params and what they point at (the A2I flow definition must be Active, or the
   Label Studio project must offer the run's labels; a reused endpoint must be InService) and
   lists the images under `input_s3_uri`, before anything is paid for;
2. deploys `model_package_arn` to a SageMaker endpoint (skipped when `endpoint_name` is given);
3. detects objects in every image, in batches, and gates each image: detections under
   `min_score` are dropped, those at or over `threshold` (or the label's `class_thresholds`) are
   accepted, anything in between sends the image to review;
4. deletes the endpoint as soon as detection is over, whatever happened;
5. starts one review task per image to review (an A2I human loop, or a task in the Label Studio
   project `label_studio_project_id` with `review_backend` `labelstudio`), showing the confident
   boxes and offering the run's `labels`, and waits for them in the triggerer, holding no worker;
6. merges the reviewers' boxes and writes `results.jsonl` (one record per image) and
   `summary.json` to a folder of the run's own under `output_s3_uri`.

A bad image or model answer marks that image `error`; a failed or expired human loop, or a
skipped or deleted Label Studio task, marks it `review_failed` with the model's boxes. Clearing
and re-running never starts a second review task for an image. Set up the review workflow (or
project) first with the `review_workflow_setup` DAG.
"""

dag = build_detect_and_review_dag(
    dag_id="detect_and_review",
    doc_md=DOC,
    tags=["hitl-detection", "sagemaker", "a2i", "labelstudio"],
)
