"""One training set from several past runs: the newest usable answer per image wins."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowFailException

from hitl_detection.assets import set_asset_events, training_set_events
from hitl_detection.domain.naming import run_folder
from hitl_detection.domain.newest_answers import NewestAnswers
from hitl_detection.domain.s3_uri import join_s3_uri, parse_s3_uri
from hitl_detection.domain.threshold_advice import run_labels
from hitl_detection.domain.training_sets import (
    ClassList,
    Exclusion,
    RunSource,
    TrainingSetLayout,
    training_item,
)
from hitl_detection.hooks.published_runs import PublishedRuns, ResultsFile
from hitl_detection.hooks.training_set_files import TrainingSetFiles
from hitl_detection.operators.deployment_identity import run_owner
from hitl_detection.operators.links import RunFolderLink, s3_folder_url


@dataclass(frozen=True)
class _Run:
    results: ResultsFile
    source: RunSource
    labels: tuple[str, ...]


class ExportTrainingSetOperator(AwsBaseOperator[S3Hook]):
    """Export the accepted and reviewed images of past runs as COCO, YOLO and a Ground Truth manifest.

    Runs are taken newest first (by when their results were published): an image's newest
    accepted or reviewed answer is the one exported; an image with none is listed in
    excluded.jsonl with its newest failure. Class ids follow the runs' labels, the oldest run's
    first. Everything streams: runs are read one at a time, and the images already exported are
    remembered on disk, so memory stays flat however many runs and images there are. Bad input
    (nothing found, a run without its summary) fails the task without retries: trying again would
    read the same files.

    :param results_s3_uris: the runs: their results.jsonl files, or prefixes holding them (a run's
        folder, or a detect_and_review `output_s3_uri`).
    :param output_s3_uri: where to write; each export goes into a folder of its own (from the DAG
        run) under it. Returns that folder.
    """

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields("results_s3_uris", "output_s3_uri")
    operator_extra_links = (RunFolderLink(),)

    def __init__(self, *, results_s3_uris: Sequence[str], output_s3_uri: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.results_s3_uris = results_s3_uris
        self.output_s3_uri = output_s3_uri

    def execute(self, context: Context) -> str:
        published = PublishedRuns(self.hook)
        try:
            bucket, prefix = parse_s3_uri(self.output_s3_uri, require_prefix_slash=True)
            runs = [self._run(published, results) for results in published.find(self.results_s3_uris)]
        except ValueError as error:
            raise AirflowFailException(str(error)) from error
        runs.sort(key=lambda run: run.source.published_at, reverse=True)
        folder = f"{prefix}{run_folder(run_owner(context).run_key)}/"
        RunFolderLink.persist(context, lambda: s3_folder_url(self.hook, bucket, folder))
        classes = ClassList.merged(run.labels for run in reversed(runs))
        newest_first = ", ".join(run.results.uri for run in runs)
        self.log.info("Exporting %d runs, newest first: %s", len(runs), newest_first)
        answers = NewestAnswers()
        try:
            with TrainingSetFiles(
                self.hook,
                TrainingSetLayout(bucket, folder),
                classes,
                description=f"hitl-detection training set from {len(runs)} runs",
                created_at=runs[0].source.published_at,
            ) as training:
                for run in runs:
                    for line in published.lines(run.results):
                        item = training_item(json.loads(line), classes, run.source)
                        if isinstance(item, Exclusion):
                            answers.hold_exclusion(item)
                        elif answers.first_answer(item):
                            training.add(item)
                for exclusion in answers.exclusions():
                    training.add(exclusion)
                exports = training.upload()
        finally:
            answers.close()
        self.log.info(
            "Training set of %d images (%d boxes; %d left out, listed in %s), classes %s: COCO %s, "
            "YOLO %s, Ground Truth manifest %s",
            exports["images"],
            exports["boxes"],
            exports["excluded"],
            exports["excluded_s3_uri"],
            exports["classes"],
            exports["coco_s3_uri"],
            exports["yolo_s3_uri"],
            exports["manifest_s3_uri"],
        )
        set_asset_events(context, self.outlets, training_set_events(exports))
        return join_s3_uri(bucket, folder)

    @staticmethod
    def _run(published: PublishedRuns, results: ResultsFile) -> _Run:
        summary = published.summary(results)
        where = join_s3_uri(results.bucket, results.summary_key)
        return _Run(results, RunSource(summary["run_id"], results.published_at), run_labels(summary, where))
