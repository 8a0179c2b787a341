"""Where a run keeps its files in S3.

Every task of a run finds its inputs and writes its outputs here, so that XCom carries only keys
and counts, and so that a cleared or retried task overwrites what it wrote before instead of
adding to it. Everything lives under one folder unique to the run.
"""

from __future__ import annotations

from dataclasses import dataclass

from hitl_detection.naming import run_folder


@dataclass(frozen=True)
class RunLayout:
    bucket: str
    folder: str  # the run's key prefix, ending with "/"

    @classmethod
    def for_run(cls, output_bucket: str, output_prefix: str, run_id: str) -> RunLayout:
        return cls(bucket=output_bucket, folder=f"{output_prefix}{run_folder(run_id)}/")

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.folder}"

    @property
    def results_key(self) -> str:
        return f"{self.folder}results.jsonl"

    @property
    def summary_key(self) -> str:
        return f"{self.folder}summary.json"

    def batch_key(self, stage: str, batch: int) -> str:
        """One file per stage and batch: `images`, `predictions`, `decisions`, `reviews`, `records`."""
        return f"{self.folder}work/{stage}/batch-{batch:05d}.jsonl"
