"""Which run of which DAG of which Airflow deployment a SageMaker resource or an output folder
belongs to, in the three forms it is written down: the run key names derive from, the tags of the
resources the run deploys, and the owner file of the run's folder.

Airflow keeps a run id unique only within one DAG of one deployment: staging and prod both run
`scheduled__<date>`. The deployment id tells deployments apart; the installation id (random, one
per metadata database) tells apart two deployments that were given the same deployment id, so that
such a clash is refused by name instead of mixing their runs.
"""

from __future__ import annotations

import base64
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

from hitl_detection.domain.naming import run_key

DEPLOYMENT_ID_PATTERN = r"^[a-z0-9](-*[a-z0-9])*$"
MAX_DEPLOYMENT_ID_LENGTH = 32
TAG_PREFIX = "hitl-detection:"
DEPLOYMENT_TAG = f"{TAG_PREFIX}deployment"
INSTALLATION_TAG = f"{TAG_PREFIX}installation"
DAG_TAG = f"{TAG_PREFIX}dag"
RUN_TAG = f"{TAG_PREFIX}run"
DEADLINE_TAG = f"{TAG_PREFIX}deadline"
_OWNER_TAGS = {
    "deployment_id": DEPLOYMENT_TAG,
    "installation_id": INSTALLATION_TAG,
    "dag_id": DAG_TAG,
    "run_id": RUN_TAG,
}
_MAX_TAG_VALUE = 256
# What SageMaker takes in a tag value besides letters, separators and numbers of any script.
_TAG_PUNCTUATION = "_.:/=+-@"
# A value SageMaker would refuse is written as base64url (whose characters it takes) after this.
_ENCODED_MARK = "b64:"
_DEADLINE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class OwnerTagsError(ValueError):
    """A resource carries some of the project's tags, but not a readable set of them."""


@dataclass(frozen=True)
class DeploymentIdentity:
    """This Airflow deployment: its deployment id (set, or its installation id) and installation id."""

    deployment_id: str
    installation_id: str

    def __post_init__(self) -> None:
        for name in ("deployment_id", "installation_id"):
            value = getattr(self, name)
            if not (
                isinstance(value, str)
                and len(value) <= MAX_DEPLOYMENT_ID_LENGTH
                and re.fullmatch(DEPLOYMENT_ID_PATTERN, value)
            ):
                raise ValueError(
                    f"{name} {value!r} is not 1 to {MAX_DEPLOYMENT_ID_LENGTH} lowercase letters, digits "
                    "and inner hyphens"
                )

    def owner_of(self, dag_id: str, run_id: str) -> RunOwner:
        return RunOwner(self.deployment_id, self.installation_id, dag_id, run_id)


@dataclass(frozen=True)
class RunOwner:
    """A run of a DAG of an Airflow deployment: what the run's names, tags and owner file say."""

    deployment_id: str
    installation_id: str
    dag_id: str
    run_id: str

    def __post_init__(self) -> None:
        DeploymentIdentity(self.deployment_id, self.installation_id)
        run_key(self.deployment_id, self.dag_id, self.run_id)  # refuses empty ids, a colon in the DAG id
        for name in ("dag_id", "run_id"):
            if len(_tag_value(getattr(self, name))) > _MAX_TAG_VALUE:
                raise ValueError(
                    f"{name} {getattr(self, name)!r} does not fit a SageMaker tag value "
                    f"({_MAX_TAG_VALUE} characters); use a shorter one"
                )

    @property
    def identity(self) -> DeploymentIdentity:
        return DeploymentIdentity(self.deployment_id, self.installation_id)

    @property
    def run_key(self) -> str:
        return run_key(self.deployment_id, self.dag_id, self.run_id)

    def tags(self, deadline: datetime) -> list[dict[str, str]]:
        """SageMaker tags naming this run, and the time after which the cost guard may remove the
        resource even while the run still runs."""
        owner = [{"Key": key, "Value": _tag_value(getattr(self, name))} for name, key in _OWNER_TAGS.items()]
        return [*owner, {"Key": DEADLINE_TAG, "Value": deadline.astimezone(UTC).strftime(_DEADLINE_FORMAT)}]

    def to_json(self) -> dict[str, str]:
        """The owner file's content (and the plan's form of the owner)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunOwner:
        return cls(**{field.name: data[field.name] for field in fields(cls)})

    def refusal(self, claimed: Any) -> str | None:
        """Why this run may not use a folder whose owner file says `claimed`; None when it is its own."""
        try:
            other = RunOwner.from_json(claimed)
        except (TypeError, KeyError, ValueError):
            return f"its owner file is not one this project writes: {str(claimed)[:200]!r}"
        if other == self:
            return None
        if other.identity == self.identity:
            # Different runs whose keys hash alike: never seen, but never mixed either.
            return f"it belongs to run {other.run_id} of DAG {other.dag_id}"
        if other.deployment_id == self.deployment_id:
            return (
                f"it belongs to run {other.run_id} of DAG {other.dag_id} in another Airflow installation "
                f"(installation id {other.installation_id}; this one is {self.installation_id}) that "
                f"uses the same deployment_id {self.deployment_id!r}: give each deployment its own "
                "[hitl_detection] deployment_id"
            )
        return f"it belongs to run {other.run_id} of DAG {other.dag_id} of deployment {other.deployment_id}"


@dataclass(frozen=True)
class OwnerTags:
    """What a resource's tags say: the run that deployed it and its deadline."""

    owner: RunOwner
    deadline: datetime


def read_owner_tags(tags: Iterable[Mapping[str, str]]) -> OwnerTags | None:
    """The owner and deadline in a resource's tags (`[{Key, Value}]`); None when it has none of
    the project's tags. Raises OwnerTagsError when it has some but not a readable set."""
    values = {tag["Key"]: tag["Value"] for tag in tags if tag["Key"].startswith(TAG_PREFIX)}
    if not values:
        return None
    missing = [key for key in (*_OWNER_TAGS.values(), DEADLINE_TAG) if key not in values]
    if missing:
        raise OwnerTagsError(f"tags {', '.join(missing)} are missing")
    try:
        owner = RunOwner(**{name: _read_tag_value(values[key]) for name, key in _OWNER_TAGS.items()})
        deadline = datetime.strptime(values[DEADLINE_TAG], _DEADLINE_FORMAT).replace(tzinfo=UTC)
    except ValueError as error:
        raise OwnerTagsError(str(error)) from error
    return OwnerTags(owner, deadline)


def _tag_value(text: str) -> str:
    if not text.startswith(_ENCODED_MARK) and all(
        unicodedata.category(char)[0] in "LZN" or char in _TAG_PUNCTUATION for char in text
    ):
        return text
    encoded = base64.urlsafe_b64encode(text.encode("utf-8", "surrogatepass")).decode("ascii")
    return f"{_ENCODED_MARK}{encoded}"


def _read_tag_value(value: str) -> str:
    if not value.startswith(_ENCODED_MARK):
        return value
    try:
        encoded = value.removeprefix(_ENCODED_MARK)
        return base64.b64decode(encoded, altchars=b"-_", validate=True).decode("utf-8", "surrogatepass")
    except ValueError as error:  # not base64, or not UTF-8
        raise ValueError(f"tag value {value!r} is not base64url of UTF-8 text") from error
