"""Publish a run: every shard's records into one results.jsonl, and the run summary."""

from __future__ import annotations

import json
import tempfile

from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowException

from hitl_detection.domain.records import SummaryBuilder, format_summary
from hitl_detection.operators.base import RunOperator


class PublishResultsOperator(RunOperator):
    """Stream the run's records, in shard order, into its results and summary.

    The records pass through a temporary file, never all in memory, so a run of any size
    publishes in flat memory. Returns the run's output folder, and logs it with the summary.
    """

    def execute(self, context: Context) -> str:
        plan, files = self.run_plan, self.stage_files
        layout = plan.layout
        shards = files.shards("records")
        missing = sorted(set(files.shards("images")) - set(shards))
        if missing:
            raise AirflowException(
                f"records of image shards {missing} are missing under {layout.uri}work/records/: "
                "clear collect_reviews to write them, then publish again"
            )
        summary = SummaryBuilder()
        with tempfile.TemporaryFile() as results:
            for shard in shards:
                for record in files.read("records", shard):
                    summary.add(record)
                    results.write(json.dumps(record, sort_keys=True).encode() + b"\n")
            results.seek(0)
            self.hook.load_file_obj(results, key=layout.results_key, bucket_name=layout.bucket, replace=True)
        document = {
            "run_id": plan.run_id,
            "results_s3_uri": f"s3://{layout.bucket}/{layout.results_key}",
            "config": plan.config.to_params(),
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
