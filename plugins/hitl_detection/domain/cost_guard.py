"""What the cost guard removes: the models, endpoint configs and endpoints a run of this Airflow
deployment deployed and left behind (its teardown was killed, or failed), and the transform jobs it
left running (stopped, as SageMaker never deletes a job).

A run's resources go together, when the run is over (or gone from Airflow) or when the latest of
their deadlines has passed, even mid-run: a run that needs its endpoint longer than the deadline
must be given a later one. Nothing else is touched, only reported: resources with none of the
project's tags (made by hand, reused by a run, or deployed before runs were tagged), with tags
that cannot be read, or deployed by another Airflow deployment, which has its own guard.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from hitl_detection.domain.run_owner import DeploymentIdentity, OwnerTagsError, RunOwner, read_owner_tags

TRANSFORM_JOB = "transform job"
# The order to remove in: a transform job and the endpoint are what bill, and the endpoint config
# and model are what they run on.
RESOURCE_KINDS = (TRANSFORM_JOB, "endpoint", "endpoint config", "model")


@dataclass(frozen=True)
class TaggedResource:
    kind: str  # one of RESOURCE_KINDS
    name: str
    tags: tuple[Mapping[str, str], ...]  # as SageMaker lists them: {"Key": ..., "Value": ...}


@dataclass(frozen=True)
class Verdict:
    kind: str
    name: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name, "reason": self.reason}


@dataclass(frozen=True)
class GuardDecision:
    remove: tuple[Verdict, ...]  # in the order of RESOURCE_KINDS
    leave: tuple[Verdict, ...]


def decide(
    resources: Iterable[TaggedResource],
    me: DeploymentIdentity,
    now: datetime,
    run_is_going: Callable[[str, str], bool],
) -> GuardDecision:
    """`run_is_going(dag_id, run_id)`: whether that run of this deployment is queued or running;
    asked once per run, and only for runs whose deadline has not passed."""
    leave: list[Verdict] = []
    runs: dict[RunOwner, list[tuple[TaggedResource, datetime]]] = {}
    for resource in resources:
        try:
            tags = read_owner_tags(resource.tags)
        except OwnerTagsError as error:
            leave.append(_verdict(resource, f"its hitl-detection tags cannot be read: {error}"))
            continue
        if tags is None:
            leave.append(
                _verdict(
                    resource,
                    "it has no hitl-detection tags: no run of this project deployed it (made by hand, "
                    "or before runs were tagged)",
                )
            )
        elif tags.owner.identity != me:
            leave.append(_verdict(resource, _someone_elses(tags.owner, me)))
        else:
            runs.setdefault(tags.owner, []).append((resource, tags.deadline))
    remove: list[Verdict] = []
    for owner, members in runs.items():
        deadline = max(member_deadline for _, member_deadline in members)
        run = f"run {owner.run_id} of DAG {owner.dag_id}"
        if now >= deadline:
            reason, verdicts = f"its deadline {deadline.isoformat()} has passed ({run})", remove
        elif not run_is_going(owner.dag_id, owner.run_id):
            reason, verdicts = f"{run} is over", remove
        else:
            reason, verdicts = f"{run} is still going, until its deadline {deadline.isoformat()}", leave
        verdicts.extend(_verdict(resource, reason) for resource, _ in members)
    return GuardDecision(
        remove=tuple(sorted(remove, key=lambda verdict: RESOURCE_KINDS.index(verdict.kind))),
        leave=tuple(leave),
    )


def _someone_elses(owner: RunOwner, me: DeploymentIdentity) -> str:
    if owner.deployment_id == me.deployment_id:
        return (
            f"another Airflow installation (installation id {owner.installation_id}) with this "
            f"deployment_id {me.deployment_id!r} deployed it, for run {owner.run_id} of DAG {owner.dag_id}"
        )
    return f"deployment {owner.deployment_id} deployed it, for run {owner.run_id} of DAG {owner.dag_id}"


def _verdict(resource: TaggedResource, reason: str) -> Verdict:
    return Verdict(resource.kind, resource.name, reason)
