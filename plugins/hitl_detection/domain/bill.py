"""A run's bill: what its inference instances and its human reviews cost, from a price table.

Inference is billed per instance-second: the instances ran from the earliest `billed_from` to the
latest `billed_until` that the run's tasks returned (an endpoint from its creation to its
deletion, a transform job from its start to its end), times the instance count, times the price
of an instance-hour. A run that reused someone's endpoint started no instance: it pays nothing.
Reviews are billed per object a person reviewed, at the review backend's price (0 for a
self-hosted backend). Prices come from a table that names its source and date: an estimate to
compare runs by, not an invoice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

BILLED_FROM = "billed_from"
BILLED_UNTIL = "billed_until"
_TABLE_FIELDS = ("currency", "region", "date", "sources", "instance_hour", "review_per_object")


class PriceTableError(ValueError):
    """A price table is missing a field or has a price that is not a number >= 0."""


@dataclass(frozen=True)
class PriceTable:
    currency: str
    region: str
    date: str  # when the prices were read from their sources
    sources: Mapping[str, str]  # where each kind of price comes from
    instance_hour: Mapping[str, float]  # instance type -> price of an instance-hour
    review_per_object: Mapping[str, float]  # review backend -> price of one reviewed object

    @classmethod
    def from_json(cls, data: Any) -> PriceTable:
        """The table in `data` (a parsed prices file)."""
        if not isinstance(data, Mapping):
            raise PriceTableError(f"it is a {type(data).__name__}, expected a JSON object")
        missing = [name for name in _TABLE_FIELDS if name not in data]
        if missing:
            raise PriceTableError(f"it has no {', '.join(missing)}")
        for table in ("instance_hour", "review_per_object"):
            prices = data[table]
            if not isinstance(prices, Mapping):
                raise PriceTableError(f"{table} is a {type(prices).__name__}, expected an object of prices")
            for name, price in prices.items():
                if isinstance(price, bool) or not isinstance(price, int | float) or price < 0:
                    raise PriceTableError(f"{table}.{name} is {price!r}, expected a number >= 0")
        return cls(**{name: data[name] for name in _TABLE_FIELDS})


@dataclass(frozen=True)
class InferenceTime:
    """When the run's billed inference instances started and stopped (None: not recorded)."""

    started_at: datetime | None
    ended_at: datetime | None

    @classmethod
    def from_task_results(cls, results: Iterable[Mapping[str, Any] | None]) -> InferenceTime:
        """The earliest `billed_from` and the latest `billed_until` among the tasks' return values."""
        starts, ends = [], []
        for result in results:
            if result and result.get(BILLED_FROM):
                starts.append(datetime.fromisoformat(result[BILLED_FROM]))
            if result and result.get(BILLED_UNTIL):
                ends.append(datetime.fromisoformat(result[BILLED_UNTIL]))
        return cls(min(starts, default=None), max(ends, default=None))


def run_bill(
    *,
    inference: InferenceTime,
    instance_type: str,
    instance_count: int,
    review_backend: str,
    objects_reviewed: int,
    prices: PriceTable,
) -> dict[str, Any]:
    """The bill as JSON: each part's quantity, unit price and cost, and the total.

    A cost that cannot be worked out (a time not recorded, a price not in the table) is None with
    a note saying why, and so is the total: a bill never passes a guess off as a figure.
    """
    inference_part = _inference(inference, instance_type, instance_count, prices)
    review_price = prices.review_per_object.get(review_backend)
    review_part = {
        "backend": review_backend,
        "objects": objects_reviewed,
        "price_per_object": review_price,
        "cost": None if review_price is None else round(objects_reviewed * review_price, 6),
        "note": None if review_price is not None else f"no price for review backend {review_backend}",
    }
    costs = (inference_part["cost"], review_part["cost"])
    return {
        "currency": prices.currency,
        "inference": inference_part,
        "review": review_part,
        "total": None if None in costs else round(sum(costs), 6),
        "prices": {"region": prices.region, "date": prices.date, "sources": dict(prices.sources)},
    }


def _inference(
    time: InferenceTime, instance_type: str, instance_count: int, prices: PriceTable
) -> dict[str, Any]:
    price = prices.instance_hour.get(instance_type)
    part: dict[str, Any] = {
        "instance_type": instance_type,
        "instance_count": instance_count,
        BILLED_FROM: None if time.started_at is None else time.started_at.isoformat(),
        BILLED_UNTIL: None if time.ended_at is None else time.ended_at.isoformat(),
        "price_per_instance_hour": price,
    }
    if time.started_at is None and time.ended_at is None:
        note = "the run started no inference instance (a reused endpoint is billed to its owner)"
        return {**part, "seconds": 0, "cost": 0, "note": note}
    if time.started_at is None or time.ended_at is None:
        which = "start" if time.started_at is None else "end"
        return {**part, "seconds": None, "cost": None, "note": f"the {which} of inference was not recorded"}
    seconds = max((time.ended_at - time.started_at).total_seconds(), 0)
    if price is None:
        note = f"no price for instance type {instance_type}"
        return {**part, "seconds": seconds, "cost": None, "note": note}
    cost = round(seconds / 3600 * instance_count * price, 6)
    return {**part, "seconds": seconds, "cost": cost, "note": None}


def format_bill(bill: Mapping[str, Any]) -> str:
    """The bill as text for the task log and the demo."""
    currency, inference, review = bill["currency"], bill["inference"], bill["review"]
    prices = bill["prices"]
    lines = [f"Bill ({currency}; prices for {prices['region']} as of {prices['date']}):"]
    seconds = "?" if inference["seconds"] is None else f"{inference['seconds']:.0f}"
    lines.append(
        f"  Inference: {inference['instance_count']} x {inference['instance_type']} for {seconds} s at "
        f"{_amount(inference['price_per_instance_hour'])} an instance-hour = {_amount(inference['cost'])}"
        + _note(inference)
    )
    lines.append(
        f"  Review: {review['objects']} objects reviewed with {review['backend']} at "
        f"{_amount(review['price_per_object'])} each = {_amount(review['cost'])}" + _note(review)
    )
    lines.append(f"  Total: {_amount(bill['total'])}")
    lines.extend(f"  Prices of {kind}: {source}" for kind, source in prices["sources"].items())
    return "\n".join(lines)


def _amount(value: float | None) -> str:
    return "?" if value is None else f"{value:.4f}"


def _note(part: Mapping[str, Any]) -> str:
    return f" ({part['note']})" if part["note"] else ""
