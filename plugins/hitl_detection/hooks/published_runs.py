"""Past runs' results in S3: found from URIs that name results.jsonl files or prefixes holding
them (a run folder, or a detect_and_review output_s3_uri), each with its summary.json beside it,
and read as streams."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hitl_detection.domain.s3_uri import join_s3_uri, parse_s3_uri

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

RESULTS_FILE = "results.jsonl"
SUMMARY_FILE = "summary.json"


@dataclass(frozen=True)
class ResultsFile:
    """A run's results.jsonl, and when it was published (its S3 LastModified)."""

    bucket: str
    key: str
    published_at: datetime

    @property
    def uri(self) -> str:
        return join_s3_uri(self.bucket, self.key)

    @property
    def summary_key(self) -> str:
        return f"{self.key[: -len(RESULTS_FILE)]}{SUMMARY_FILE}"


class PublishedRuns:
    def __init__(self, s3: S3Hook) -> None:
        self.s3 = s3

    def find(self, uris: Sequence[str]) -> list[ResultsFile]:
        """Each results file a URI names, or every one under a prefix (in key order).

        Raises ValueError (S3UriError for a malformed URI) naming the URI that finds nothing.
        """
        found: list[ResultsFile] = []
        for uri in uris:
            bucket, key = parse_s3_uri(uri)
            if key.endswith(RESULTS_FILE):
                head = self.s3.head_object(key, bucket)
                if head is None:
                    raise ValueError(f"{uri} does not exist")
                found.append(ResultsFile(bucket, key, head["LastModified"]))
                continue
            if key and not key.endswith("/"):
                raise ValueError(f"{uri!r} names neither a {RESULTS_FILE} nor a prefix ending with '/'")
            pages = self.s3.conn.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
            under = sorted(
                (
                    ResultsFile(bucket, item["Key"], item["LastModified"])
                    for page in pages
                    for item in page.get("Contents", ())
                    if item["Key"].rsplit("/", 1)[-1] == RESULTS_FILE
                ),
                key=lambda results: results.key,
            )
            if not under:
                raise ValueError(
                    f"no {RESULTS_FILE} under {uri}: expected the output folder of detect_and_review runs"
                )
            found += under
        return found

    def summary(self, results: ResultsFile) -> dict[str, Any]:
        """The run's summary.json; ValueError when it is missing (its publish did not finish)."""
        try:
            body = self.s3.conn.get_object(Bucket=results.bucket, Key=results.summary_key)["Body"].read()
        except self.s3.conn.exceptions.NoSuchKey as error:
            where = join_s3_uri(results.bucket, results.summary_key)
            raise ValueError(f"{where} is missing: the labels of the run beside it are unknown") from error
        return json.loads(body)

    def lines(self, results: ResultsFile) -> Iterator[bytes]:
        """The non-blank lines of the results file, streamed."""
        body = self.s3.conn.get_object(Bucket=results.bucket, Key=results.key)["Body"]
        return (line for line in body.iter_lines() if line.strip())
