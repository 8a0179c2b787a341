"""A2IRuntimeHook against the stand-in's A2I runtime, over HTTP: calls, paging, throttling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import botocore.session
import pytest
from botocore.exceptions import ClientError
from support import CAR, LABELS

from hitl_detection.domain.a2i_task import build_input_content
from hitl_detection.hooks.a2i_runtime import MAX_POOL_CONNECTIONS, A2IRuntimeHook
from local_aws.stack import inject_fault

pytestmark = pytest.mark.stack

CONTENT = build_input_content("s3://review-images/street/a.jpg", [CAR], LABELS)


@pytest.fixture
def hook(aws):
    return A2IRuntimeHook(aws_conn_id="aws_default")


def an_hour_ago():
    return datetime.now(UTC) - timedelta(hours=1)


def test_a_loop_is_started_described_listed_and_stopped(hook, flow_definition):
    arn = hook.start_human_loop("loop-one", flow_definition, CONTENT)

    described = hook.describe_human_loop("loop-one")
    assert (described["HumanLoopArn"], described["HumanLoopStatus"]) == (arn, "InProgress")
    assert described["FlowDefinitionArn"] == flow_definition
    assert [loop["HumanLoopName"] for loop in hook.iter_human_loops(flow_definition, an_hour_ago())] == [
        "loop-one"
    ]

    hook.stop_human_loop("loop-one")
    assert hook.describe_human_loop("loop-one")["HumanLoopStatus"] == "Stopped"


def test_an_unknown_loop_is_the_modeled_not_found_error(hook):
    with pytest.raises(hook.conn.exceptions.ResourceNotFoundException):
        hook.describe_human_loop("no-such-loop")


def test_the_state_sets_split_every_status_of_the_service_model_once():
    model = botocore.session.get_session().get_service_model("sagemaker-a2i-runtime")
    hook = A2IRuntimeHook
    assert hook.HUMAN_LOOP_IN_PROGRESS_STATES.isdisjoint(hook.HUMAN_LOOP_FINAL_STATES)
    assert hook.HUMAN_LOOP_FAILED_STATES < hook.HUMAN_LOOP_FINAL_STATES
    statuses = set(model.shape_for("HumanLoopStatus").enum)
    assert statuses == hook.HUMAN_LOOP_IN_PROGRESS_STATES | hook.HUMAN_LOOP_FINAL_STATES


def test_listing_pages_by_100_within_the_creation_window(hook, flow_definition, a2i_calls):
    for number in range(150):
        hook.start_human_loop(f"loop-{number:03d}", flow_definition, CONTENT)
    a2i_calls.clear()

    names = [loop["HumanLoopName"] for loop in hook.iter_human_loops(flow_definition, an_hour_ago())]

    assert names == [f"loop-{number:03d}" for number in range(150)]
    assert a2i_calls == {"ListHumanLoops": 2}
    assert list(hook.iter_human_loops(flow_definition, datetime.now(UTC) + timedelta(hours=1))) == []
    assert list(hook.iter_human_loops(flow_definition, an_hour_ago(), created_before=an_hour_ago())) == []


def test_a_burst_of_throttling_is_absorbed_by_retries(aws, hook, flow_definition, on_botocore_event):
    attempts = []
    on_botocore_event(
        "request-created.sagemaker-a2i-runtime.StartHumanLoop", lambda **_: attempts.append("StartHumanLoop")
    )
    inject_fault(aws, "StartHumanLoop", "ThrottlingException", count=2)

    hook.start_human_loop("loop-throttled", flow_definition, CONTENT)

    assert len(attempts) == 3
    assert [loop["HumanLoopName"] for loop in hook.iter_human_loops(flow_definition, an_hour_ago())] == [
        "loop-throttled"
    ]


def test_the_default_retries_and_pool_yield_to_the_connection_or_hook_config(aws):
    default = A2IRuntimeHook().conn.meta.config
    assert default.retries == {"mode": "standard", "total_max_attempts": 11}
    assert default.max_pool_connections == MAX_POOL_CONNECTIONS
    own = A2IRuntimeHook(
        config={
            "retries": {"mode": "legacy", "max_attempts": 2},
            "connect_timeout": 5,
            "max_pool_connections": 4,
        }
    ).conn.meta.config
    assert own.retries == {"mode": "legacy", "total_max_attempts": 3}
    assert (own.connect_timeout, own.max_pool_connections) == (5, 4)


@pytest.mark.parametrize(
    ("error", "status"), [("ThrottlingException", 429), ("InternalServerException", 500)]
)
def test_a_spent_retry_budget_raises_a_clear_error(aws, flow_definition, error, status):
    hook = A2IRuntimeHook(config={"retries": {"mode": "standard", "max_attempts": 1}})
    inject_fault(aws, "StartHumanLoop", error, status=status, count=2)

    with pytest.raises(
        ClientError,
        match=rf"\({error}\) when calling the StartHumanLoop operation \(reached max retries: 1\)",
    ):
        hook.start_human_loop("loop-refused", flow_definition, CONTENT)

    assert list(hook.iter_human_loops(flow_definition, an_hour_ago())) == []
