"""The row each stage of a run writes per image, and its one codec.

A row grows as the image goes through the run: `list_images` names it, `detect_objects` adds its
size and the gate's decision (or the error that stopped it), `start_reviews` the review ticket.
Each stage reads only the previous stage's rows, which carry all it needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from hitl_detection.domain.boxes import Box
from hitl_detection.domain.gating import GateDecision
from hitl_detection.domain.review_tasks import ReviewTicket


@dataclass(frozen=True)
class ImageRow:
    key: str
    s3_uri: str
    size: tuple[int, int] | None = None
    decision: GateDecision | None = None
    error: str | None = None  # why the image could not be processed; then there is no decision
    ticket: ReviewTicket | None = None

    @property
    def needs_review(self) -> bool:
        return self.decision is not None and self.decision.needs_review

    def detected(self, size: tuple[int, int], decision: GateDecision) -> ImageRow:
        return replace(self, size=size, decision=decision, error=None)

    def failed(self, error: str) -> ImageRow:
        return replace(self, error=error)

    def with_ticket(self, ticket: ReviewTicket) -> ImageRow:
        return replace(self, ticket=ticket)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "s3_uri": self.s3_uri,
            "size": None if self.size is None else list(self.size),
            "decision": None if self.decision is None else _decision_to_json(self.decision),
            "error": self.error,
            "ticket": None if self.ticket is None else self.ticket.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ImageRow:
        size, decision, ticket = data.get("size"), data.get("decision"), data.get("ticket")
        return cls(
            key=data["key"],
            s3_uri=data["s3_uri"],
            size=None if size is None else (size[0], size[1]),
            decision=None if decision is None else _decision_from_json(decision),
            error=data.get("error"),
            ticket=None if ticket is None else ReviewTicket.from_json(ticket),
        )


def _decision_to_json(decision: GateDecision) -> dict[str, Any]:
    return {
        "kept": [box.to_record() for box in decision.kept],
        "accepted": [box.to_record() for box in decision.accepted],
        "uncertain": [box.to_record() for box in decision.uncertain],
        "dropped_low_score": decision.dropped_low_score,
        "dropped_other_label": decision.dropped_other_label,
        "needs_review": decision.needs_review,
        "reasons": list(decision.reasons),
    }


def _decision_from_json(data: Mapping[str, Any]) -> GateDecision:
    return GateDecision(
        kept=tuple(Box.from_record(box) for box in data["kept"]),
        accepted=tuple(Box.from_record(box) for box in data["accepted"]),
        uncertain=tuple(Box.from_record(box) for box in data["uncertain"]),
        dropped_low_score=data["dropped_low_score"],
        dropped_other_label=data["dropped_other_label"],
        needs_review=data["needs_review"],
        reasons=tuple(data["reasons"]),
    )
