"""Publish a run: every shard's records into one results.jsonl, the training sets beside it, and
the run summary with the run's bill."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowException

from hitl_detection.assets import RESULTS_ASSET, set_asset_events, training_set_events
from hitl_detection.domain.bill import InferenceTime, PriceTable, format_bill, run_bill
from hitl_detection.domain.records import SummaryBuilder, format_summary
from hitl_detection.domain.run_plan import RunPlan
from hitl_detection.domain.training_sets import ClassList, RunSource, TrainingSetLayout, training_item
from hitl_detection.hooks.training_set_files import TrainingSetFiles
from hitl_detection.operators.base import RunOperator
from hitl_detection.operators.links import RunFolderLink, s3_folder_url

# The training sets of a run, under its folder.
EXPORTS_FOLDER = "exports/"


class PublishResultsOperator(RunOperator):
    """Stream the run's records, in shard order, into its results, its training sets and its summary.

    The records pass through temporary files, never all in memory, so a run of any size publishes
    in flat memory. Returns the run's output folder, and logs it with the summary and the bill.

    :param prices_file: the price table the bill is worked out with (JSON, see include/prices.json).
    :param billing_task_ids: tasks of the run whose return values carry `billed_from` and
        `billed_until`: when its inference instances started and stopped being billed.
    """

    template_fields: Sequence[str] = (*RunOperator.template_fields, "prices_file")
    operator_extra_links = (RunFolderLink(),)

    def __init__(self, *, prices_file: str, billing_task_ids: Sequence[str] = (), **kwargs) -> None:
        super().__init__(**kwargs)
        self.prices_file = prices_file
        self.billing_task_ids = tuple(billing_task_ids)

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
        RunFolderLink.persist(context, lambda: s3_folder_url(self.hook, layout.bucket, layout.folder))
        classes = ClassList(plan.config.labels)
        source = RunSource(plan.run_id, published_at=datetime.now(UTC))
        summary = SummaryBuilder()
        with (
            tempfile.TemporaryFile() as results,
            TrainingSetFiles(
                self.hook,
                TrainingSetLayout(layout.bucket, f"{layout.folder}{EXPORTS_FOLDER}"),
                classes,
                description=f"hitl-detection run {plan.run_id}",
                created_at=source.published_at,
            ) as training,
        ):
            for shard in shards:
                for record in files.read("records", shard):
                    summary.add(record)
                    results.write(json.dumps(record, sort_keys=True).encode() + b"\n")
                    training.add(training_item(record, classes, source))
            results.seek(0)
            self.hook.load_file_obj(results, key=layout.results_key, bucket_name=layout.bucket, replace=True)
            exports = training.upload()
        counts = summary.to_dict()
        document = {
            "run_id": plan.run_id,
            "inference": plan.inference,  # how the run detected: endpoint or batch_transform
            "results_s3_uri": f"s3://{layout.bucket}/{layout.results_key}",
            "config": plan.config.to_params(),
            **counts,
            "training_sets": exports,
            "bill": self._bill(context, plan, counts["by_status"]["reviewed"]),
        }
        self.hook.load_string(
            json.dumps(document, indent=2, sort_keys=True),
            key=layout.summary_key,
            bucket_name=layout.bucket,
            replace=True,
        )
        self.log.info("Run summary:\n%s", format_summary(document))
        self.log.info(
            "Training sets (%d images, %d left out, listed in %s): COCO %s, YOLO %s, "
            "Ground Truth manifest %s",
            exports["images"],
            exports["excluded"],
            exports["excluded_s3_uri"],
            exports["coco_s3_uri"],
            exports["yolo_s3_uri"],
            exports["manifest_s3_uri"],
        )
        if "error" in document["bill"]:
            self.log.warning("No bill for this run: %s", document["bill"]["error"])
        else:
            self.log.info("%s", format_bill(document["bill"]))
        self.log.info("Results published under %s", layout.uri)
        events = {RESULTS_ASSET.name: {"results_s3_uri": document["results_s3_uri"]}}
        set_asset_events(context, self.outlets, events | training_set_events(exports))
        return layout.uri

    def _bill(self, context: Context, plan: RunPlan, objects_reviewed: int) -> Mapping[str, Any]:
        """The run's bill; a price table that cannot be read is reported, never a reason to hold
        back the results (people's answers are worth more than the bill)."""
        try:
            prices = PriceTable.from_json(json.loads(Path(self.prices_file).read_text()))
        except (OSError, ValueError) as error:
            return {"error": f"price table {self.prices_file}: {error}"}
        ti = context["ti"]
        return run_bill(
            inference=InferenceTime.from_task_results(
                ti.xcom_pull(task_ids=task_id) for task_id in self.billing_task_ids
            ),
            instance_type=plan.deployment.instance_type,
            instance_count=plan.deployment.instance_count,
            review_backend=plan.config.review_backend,
            objects_reviewed=objects_reviewed,
            prices=prices,
        )
