"""Advise per-label thresholds from runs' results in S3, and write the advice beside them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowFailException

from hitl_detection.domain.gating import DEFAULT_THRESHOLD
from hitl_detection.domain.naming import run_folder
from hitl_detection.domain.s3_uri import S3UriError, join_s3_uri, parse_s3_uri
from hitl_detection.domain.threshold_advice import (
    DEFAULT_MATCH_IOU,
    DEFAULT_MIN_REVIEWED_BOXES,
    DEFAULT_TARGET_PRECISION,
    ReviewEvidence,
    advise_thresholds,
    format_advice,
    run_labels,
)
from hitl_detection.hooks.published_runs import PublishedRuns
from hitl_detection.operators.deployment_identity import run_owner


class AdviseThresholdsOperator(AwsBaseOperator[S3Hook]):
    """Read every results.jsonl named or under the prefixes named (each with its run's summary.json
    beside it), advise thresholds, and write advice.json, advice.md and plots/<label>.png to a
    folder unique to this run under `output_s3_uri`. Returns that folder.

    Records stream through one at a time, so memory stays flat however many runs are read. Bad
    input (no results, a run without its summary, a malformed record) fails the task without
    retries: trying again would read the same files.
    """

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields(
        "results_s3_uris", "output_s3_uri", "target_precision", "threshold", "match_iou", "min_reviewed_boxes"
    )

    def __init__(
        self,
        *,
        results_s3_uris: Sequence[str] | str,
        output_s3_uri: str,
        target_precision: float = DEFAULT_TARGET_PRECISION,
        threshold: float = DEFAULT_THRESHOLD,
        match_iou: float = DEFAULT_MATCH_IOU,
        min_reviewed_boxes: int = DEFAULT_MIN_REVIEWED_BOXES,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.results_s3_uris = results_s3_uris
        self.output_s3_uri = output_s3_uri
        self.target_precision = target_precision
        self.threshold = threshold
        self.match_iou = match_iou
        self.min_reviewed_boxes = min_reviewed_boxes

    def execute(self, context: Context) -> str:
        try:
            out_bucket, out_prefix = parse_s3_uri(self.output_s3_uri, require_prefix_slash=True)
            evidence = ReviewEvidence(self.match_iou)
            published = PublishedRuns(self.hook)
            uris = [self.results_s3_uris] if isinstance(self.results_s3_uris, str) else self.results_s3_uris
            for results in published.find(uris):
                where = join_s3_uri(results.bucket, results.summary_key)
                labels = run_labels(published.summary(results), where)
                records = 0
                for number, line in enumerate(published.lines(results), 1):
                    try:
                        evidence.add(json.loads(line), labels)
                    except ValueError as error:
                        raise ValueError(f"{results.uri}, line {number}: {error}") from error
                    records += 1
                self.log.info("Read %s: %d records (labels %s)", results.uri, records, labels)
            advice = advise_thresholds(
                evidence,
                target_precision=self.target_precision,
                global_threshold=self.threshold,
                min_reviewed_boxes=self.min_reviewed_boxes,
            )
        except (S3UriError, ValueError) as error:
            raise AirflowFailException(str(error)) from error
        # matplotlib loads here, not when the DAG file is parsed.
        from hitl_detection.reports.threshold_report import advice_files

        folder = f"{out_prefix}{run_folder(run_owner(context).run_key)}/"
        for name, content in advice_files(advice).items():
            self.hook.load_bytes(content, key=f"{folder}{name}", bucket_name=out_bucket, replace=True)
        self.log.info("Threshold advice:\n%s", format_advice(advice))
        uri = join_s3_uri(out_bucket, folder)
        self.log.info("Advice written under %s (advice.json, advice.md, plots/)", uri)
        return uri
