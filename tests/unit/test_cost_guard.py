"""What the cost guard removes and what it leaves, and why."""

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from hitl_detection.domain.cost_guard import RESOURCE_KINDS, TRANSFORM_JOB, TaggedResource, Verdict, decide
from hitl_detection.domain.run_owner import DEADLINE_TAG, DeploymentIdentity, RunOwner, read_owner_tags

ME = DeploymentIdentity("prod", "5f0c2a9e41d7b3c6")
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=3)
RUN = ME.owner_of("detect_and_review", "manual__2026-11-26T10:00:00+00:00")


def deployed(owner: RunOwner, deadline: datetime = LATER, name: str = "hitl-run") -> list[TaggedResource]:
    """The model, endpoint config and endpoint a run deploys, as the guard lists them."""
    tags = tuple(owner.tags(deadline))
    return [
        TaggedResource("model", f"{name}-model", tags),
        TaggedResource("endpoint config", f"{name}-config", tags),
        TaggedResource("endpoint", f"{name}-endpoint", tags),
    ]


def transform_job(owner: RunOwner, deadline: datetime = LATER, name: str = "hitl-run") -> TaggedResource:
    """A run's transform job still running, as the guard lists it."""
    return TaggedResource(TRANSFORM_JOB, f"{name}-jpeg-1", tuple(owner.tags(deadline)))


def never_asked(dag_id: str, run_id: str) -> bool:
    raise AssertionError(f"run {run_id} of {dag_id} should not be looked up")


def test_a_run_that_is_over_loses_its_endpoint_config_and_model_in_that_order():
    asked = []

    def run_is_going(dag_id, run_id):
        asked.append((dag_id, run_id))
        return False

    decision = decide(deployed(RUN), ME, NOW, run_is_going)

    assert decision.remove == (
        Verdict("endpoint", "hitl-run-endpoint", f"run {RUN.run_id} of DAG detect_and_review is over"),
        Verdict("endpoint config", "hitl-run-config", f"run {RUN.run_id} of DAG detect_and_review is over"),
        Verdict("model", "hitl-run-model", f"run {RUN.run_id} of DAG detect_and_review is over"),
    )
    assert decision.leave == ()
    assert asked == [(RUN.dag_id, RUN.run_id)]  # once per run, not per resource
    assert decision.remove[0].to_json() == {
        "kind": "endpoint",
        "name": "hitl-run-endpoint",
        "reason": f"run {RUN.run_id} of DAG detect_and_review is over",
    }


def test_a_going_run_keeps_its_resources_until_its_deadline_then_loses_them():
    going = decide(deployed(RUN), ME, NOW, lambda dag_id, run_id: True)
    assert going.remove == ()
    assert {verdict.reason for verdict in going.leave} == {
        f"run {RUN.run_id} of DAG detect_and_review is still going, until its deadline {LATER.isoformat()}"
    }

    late = decide(deployed(RUN), ME, LATER, never_asked)
    assert [verdict.kind for verdict in late.remove] == ["endpoint", "endpoint config", "model"]
    assert late.remove[0].reason == (
        f"its deadline {LATER.isoformat()} has passed (run {RUN.run_id} of DAG detect_and_review)"
    )


def test_a_runs_resources_go_together_at_the_latest_of_their_deadlines():
    """A model reused from a try long ago does not go before the endpoint a later try made."""
    old_model, *_ = deployed(RUN, deadline=NOW - timedelta(days=1))
    _, config, endpoint = deployed(RUN, deadline=LATER)

    decision = decide([old_model, config, endpoint], ME, NOW, lambda dag_id, run_id: True)

    assert decision.remove == ()
    assert len(decision.leave) == 3


def test_a_transform_job_goes_first_with_the_model_it_runs_on_and_never_while_its_run_goes_in_time():
    """The job, started after the model was deployed, has the later deadline: it keeps the model."""
    model, *_ = deployed(RUN, deadline=NOW - timedelta(hours=1))
    job = transform_job(RUN, deadline=LATER)

    going = decide([model, job], ME, NOW, lambda dag_id, run_id: True)
    over = decide([model, job], ME, NOW, lambda dag_id, run_id: False)
    late = decide([model, job], ME, LATER, never_asked)

    assert going.remove == ()
    assert [(verdict.kind, verdict.name) for verdict in going.leave] == [
        ("model", "hitl-run-model"),
        (TRANSFORM_JOB, "hitl-run-jpeg-1"),
    ]
    assert over.remove == (
        Verdict(TRANSFORM_JOB, "hitl-run-jpeg-1", f"run {RUN.run_id} of DAG detect_and_review is over"),
        Verdict("model", "hitl-run-model", f"run {RUN.run_id} of DAG detect_and_review is over"),
    )
    assert [verdict.kind for verdict in late.remove] == [TRANSFORM_JOB, "model"]


def test_untagged_unreadable_and_other_deployments_resources_are_left_and_said_why():
    other_installation = DeploymentIdentity("prod", "0b8e6d1f2c4a9e75").owner_of(RUN.dag_id, RUN.run_id)
    staging = DeploymentIdentity("staging", "0b8e6d1f2c4a9e75").owner_of(RUN.dag_id, RUN.run_id)
    broken = tuple(tag for tag in RUN.tags(LATER) if tag["Key"] != DEADLINE_TAG)
    resources = [
        TaggedResource("endpoint", "hitl-team-detector", ({"Key": "team", "Value": "vision"},)),
        TaggedResource("endpoint", "hitl-broken-endpoint", broken),
        TaggedResource(TRANSFORM_JOB, "hitl-batch-jpeg-1", ()),
        transform_job(staging, deadline=NOW - timedelta(days=3), name="hitl-staging"),
        *deployed(other_installation, deadline=NOW - timedelta(days=3), name="hitl-twin"),
        *deployed(staging, deadline=NOW - timedelta(days=3), name="hitl-staging"),
    ]

    decision = decide(resources, ME, NOW, never_asked)

    assert decision.remove == ()
    reasons = {verdict.name: verdict.reason for verdict in decision.leave}
    assert reasons["hitl-team-detector"].startswith("it has no hitl-detection tags: no run of this project")
    assert reasons["hitl-batch-jpeg-1"].startswith("it has no hitl-detection tags")
    assert reasons["hitl-staging-jpeg-1"].startswith("deployment staging deployed it")
    assert reasons["hitl-broken-endpoint"] == (
        "its hitl-detection tags cannot be read: tags hitl-detection:deadline are missing"
    )
    assert reasons["hitl-twin-endpoint"] == (
        "another Airflow installation (installation id 0b8e6d1f2c4a9e75) with this deployment_id "
        f"'prod' deployed it, for run {RUN.run_id} of DAG detect_and_review"
    )
    assert reasons["hitl-staging-model"] == (
        f"deployment staging deployed it, for run {RUN.run_id} of DAG detect_and_review"
    )


@given(
    st.lists(
        st.tuples(
            st.sampled_from([ME, DeploymentIdentity("staging", "0b8e6d1f2c4a9e75")]),
            st.sampled_from(["manual__1", "manual__2", "scheduled__3"]),
            st.integers(-5, 5),
            st.booleans(),
            st.booleans(),
        ),
        max_size=8,
    ),
)
def test_every_resource_is_removed_or_left_and_ours_go_with_their_run_unless_it_goes_in_time(runs):
    resources, going = [], {}
    for index, (identity, run_id, hours, is_going, transforms) in enumerate(runs):
        owner = identity.owner_of("detect_and_review", run_id)
        going.setdefault(run_id, is_going)
        deadline, name = NOW + timedelta(hours=hours), f"hitl-{index}"
        resources += deployed(owner, deadline, name)
        if transforms:
            resources.append(transform_job(owner, deadline, name))

    decision = decide(resources, ME, NOW, lambda dag_id, run_id: going[run_id])

    names = sorted(verdict.name for verdict in (*decision.remove, *decision.leave))
    assert names == sorted(resource.name for resource in resources)
    tags = {resource.name: read_owner_tags(resource.tags) for resource in resources}
    ours = {name for name, tag in tags.items() if tag.owner.identity == ME}
    # A run still going before the latest of its deadlines keeps all it has; any other loses it all.
    safe = {
        tags[name].owner.run_id
        for name in ours
        if going[tags[name].owner.run_id] and tags[name].deadline > NOW
    }
    removed = {verdict.name for verdict in decision.remove}
    assert removed == {name for name in ours if tags[name].owner.run_id not in safe}
    kinds = [RESOURCE_KINDS.index(verdict.kind) for verdict in decision.remove]
    assert kinds == sorted(kinds)
