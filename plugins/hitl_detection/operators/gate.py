"""Gate one batch's detections by the run's thresholds: accept, send to review, or drop."""

from __future__ import annotations

from airflow.sdk import Context

from hitl_detection.gating import GatePolicy, gate_detections
from hitl_detection.jsonl_store import read_jsonl, write_jsonl
from hitl_detection.operators.run_batch import RunBatchOperator
from hitl_detection.work_rows import boxes_from_records, decision_row


class ThresholdGateOperator(RunBatchOperator):
    """Turn a batch's prediction rows into decision rows with the run's gate policy."""

    def execute(self, context: Context) -> dict[str, int]:
        layout = self.layout
        policy = GatePolicy.from_dict(self.plan["config"]["policy"])
        counts = {"batch": self.batch, "images": 0, "accepted": 0, "needs_review": 0, "errors": 0}

        def decide(predictions):
            for prediction in predictions:
                counts["images"] += 1
                if prediction["error"]:
                    counts["errors"] += 1
                    yield decision_row(prediction, None)
                    continue
                decision = gate_detections(boxes_from_records(prediction["detections"]), policy)
                counts["needs_review" if decision.needs_review else "accepted"] += 1
                if decision.needs_review:
                    self.log.info(
                        "%s needs review: %s", prediction["image_s3_uri"], "; ".join(decision.reasons)
                    )
                yield decision_row(prediction, decision)

        predictions = read_jsonl(self.hook, layout.bucket, layout.batch_key("predictions", self.batch))
        write_jsonl(self.hook, layout.bucket, layout.batch_key("decisions", self.batch), decide(predictions))
        self.log.info(
            "Batch %d: %d accepted, %d need review, %d failed earlier.",
            self.batch,
            counts["accepted"],
            counts["needs_review"],
            counts["errors"],
        )
        return counts
