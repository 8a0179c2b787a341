"""Publish a run: every batch's records into one results.jsonl, and the run summary."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk import Context

from hitl_detection.jsonl_store import read_jsonl
from hitl_detection.records import SummaryBuilder, format_summary
from hitl_detection.run_layout import RunLayout


class PublishResultsOperator(AwsBaseOperator[S3Hook]):
    """Stream the batches' records, in batch order, into the run's results and summary.

    The records pass through a temporary file, never all in memory, so a run of any size
    publishes in flat memory. Returns the run's output folder, and logs it with the summary.
    """

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields("plan", "batches")

    def __init__(self, *, plan: Mapping[str, Any], batches: Sequence[int], **kwargs) -> None:
        super().__init__(**kwargs)
        self.plan = plan
        self.batches = batches

    def execute(self, context: Context) -> str:
        layout = RunLayout(**self.plan["layout"])
        summary = SummaryBuilder()
        with tempfile.TemporaryFile() as results:
            for batch in sorted(self.batches):
                for record in read_jsonl(self.hook, layout.bucket, layout.batch_key("records", batch)):
                    summary.add(record)
                    results.write(json.dumps(record, sort_keys=True).encode() + b"\n")
            results.seek(0)
            self.hook.load_file_obj(results, key=layout.results_key, bucket_name=layout.bucket, replace=True)
        document = {
            "run_id": self.plan["run_id"],
            "results_s3_uri": f"s3://{layout.bucket}/{layout.results_key}",
            "config": self.plan["config"],
            **summary.to_dict(),
        }
        self.hook.load_string(
            json.dumps(document, indent=2, sort_keys=True),
            key=layout.summary_key,
            bucket_name=layout.bucket,
            replace=True,
        )
        self.log.info("Run summary:\n%s", format_summary(document))
        self.log.info("Results published under %s", layout.uri)
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = {"results_s3_uri": document["results_s3_uri"]}
        return layout.uri
