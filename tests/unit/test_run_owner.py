"""Who a run is, as its names, its resources' tags and its folder's owner file say it."""

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hitl_detection.domain.run_owner import (
    DEADLINE_TAG,
    DEPLOYMENT_TAG,
    RUN_TAG,
    TAG_PREFIX,
    DeploymentIdentity,
    OwnerTagsError,
    RunOwner,
    read_owner_tags,
)

PROD = DeploymentIdentity("prod", "5f0c2a9e41d7b3c6")
OWNER = PROD.owner_of("detect_and_review_daily", "scheduled__2026-11-25T00:00:00+00:00")
DEADLINE = datetime(2026, 11, 26, 0, 5, 7, tzinfo=UTC)
# What SageMaker takes in a tag value (botocore's TagValue pattern, \p{L}\p{Z}\p{N} spelt out).
TAG_VALUE = re.compile(r"[\w\s.:/=+@-]{0,256}")


def tags_of(owner: RunOwner = OWNER, deadline: datetime = DEADLINE) -> list[dict[str, str]]:
    return owner.tags(deadline)


def test_the_tags_name_the_deployment_installation_dag_run_and_deadline():
    assert {tag["Key"]: tag["Value"] for tag in tags_of()} == {
        "hitl-detection:deployment": "prod",
        "hitl-detection:installation": "5f0c2a9e41d7b3c6",
        "hitl-detection:dag": "detect_and_review_daily",
        "hitl-detection:run": "scheduled__2026-11-25T00:00:00+00:00",
        "hitl-detection:deadline": "2026-11-26T00:05:07Z",
    }


def test_a_deadline_in_another_zone_is_written_in_utc():
    deadline = DEADLINE.astimezone(timezone(timedelta(hours=2)))
    assert read_owner_tags(tags_of(deadline=deadline)).deadline == DEADLINE


@given(st.text(st.characters(codec=None, categories=None), min_size=1, max_size=45))  # <= 180 bytes
def test_any_run_id_survives_the_tags_in_values_sagemaker_takes(run_id):
    owner = PROD.owner_of("detect_and_review", run_id)
    tags = tags_of(owner)

    assert all(TAG_VALUE.fullmatch(tag["Value"]) for tag in tags), tags
    assert read_owner_tags(tags).owner == owner


def test_a_run_id_sagemaker_would_refuse_is_written_as_base64_and_read_back():
    for run_id in ("manual~1", "b64:looks-encoded"):
        (run,) = [tag["Value"] for tag in tags_of(PROD.owner_of("d", run_id)) if tag["Key"] == RUN_TAG]
        assert run.startswith("b64:")
        assert read_owner_tags(tags_of(PROD.owner_of("d", run_id))).owner.run_id == run_id


def test_a_run_id_too_long_for_a_tag_is_refused_by_name():
    with pytest.raises(ValueError, match=r"run_id '~+' does not fit a SageMaker tag value \(256 char"):
        PROD.owner_of("d", "~" * 200)


def test_a_resource_without_the_projects_tags_has_no_owner():
    assert read_owner_tags([]) is None
    assert read_owner_tags([{"Key": "team", "Value": "vision"}]) is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({DEADLINE_TAG: None}, "tags hitl-detection:deadline are missing"),
        ({DEADLINE_TAG: "tomorrow"}, "time data 'tomorrow' does not match"),
        ({DEPLOYMENT_TAG: "Prod!"}, "deployment_id 'Prod!' is not 1 to 32 lowercase letters"),
        ({RUN_TAG: "b64:@@@"}, r"tag value 'b64:@@@' is not base64url of UTF-8 text"),
        ({RUN_TAG: "b64:__8="}, r"tag value 'b64:__8=' is not base64url of UTF-8 text"),
    ],
)
def test_tags_of_the_project_that_cannot_be_read_are_an_error(change, message):
    tags = {tag["Key"]: tag["Value"] for tag in tags_of()} | change
    with pytest.raises(OwnerTagsError, match=message):
        read_owner_tags([{"Key": key, "Value": value} for key, value in tags.items() if value is not None])


@pytest.mark.parametrize(
    ("deployment_id", "installation_id", "message"),
    [
        ("Prod", "abc", "deployment_id 'Prod' is not 1 to 32 lowercase letters, digits and inner hyphens"),
        ("prod", "a" * 33, "installation_id 'a+' is not 1 to 32"),
        ("prod", None, "installation_id None is not"),
        ("-prod", "abc", "deployment_id '-prod' is not"),
    ],
)
def test_a_deployment_id_is_short_lowercase_letters_digits_and_inner_hyphens(
    deployment_id, installation_id, message
):
    with pytest.raises(ValueError, match=message):
        DeploymentIdentity(deployment_id, installation_id)


def test_an_owner_needs_a_dag_and_a_run():
    with pytest.raises(ValueError, match="dag_id '' is not a non-empty string"):
        PROD.owner_of("", "run")


def test_the_owner_file_round_trips_and_its_own_run_may_use_the_folder():
    assert RunOwner.from_json(OWNER.to_json()) == OWNER
    assert OWNER.identity == PROD
    assert OWNER.run_key == "scheduled__2026-11-25T00:00:00+00:00:detect_and_review_daily:prod"
    assert OWNER.refusal(OWNER.to_json()) is None


def test_a_folder_another_installation_with_the_same_deployment_id_claimed_is_refused_naming_the_fix():
    theirs = DeploymentIdentity("prod", "0b8e6d1f2c4a9e75").owner_of(OWNER.dag_id, OWNER.run_id)

    refusal = OWNER.refusal(theirs.to_json())

    assert refusal == (
        "it belongs to run scheduled__2026-11-25T00:00:00+00:00 of DAG detect_and_review_daily in "
        "another Airflow installation (installation id 0b8e6d1f2c4a9e75; this one is "
        "5f0c2a9e41d7b3c6) that uses the same deployment_id 'prod': give each deployment its own "
        "[hitl_detection] deployment_id"
    )


def test_a_folder_of_another_run_or_deployment_is_refused():
    other_run = PROD.owner_of(OWNER.dag_id, "manual__1")
    staging = DeploymentIdentity("staging", "0b8e6d1f2c4a9e75").owner_of(OWNER.dag_id, OWNER.run_id)

    assert OWNER.refusal(other_run.to_json()) == "it belongs to run manual__1 of DAG detect_and_review_daily"
    assert OWNER.refusal(staging.to_json()).endswith("of deployment staging")


@pytest.mark.parametrize(
    "claimed", ["not json", {"deployment_id": "prod"}, {**OWNER.to_json(), "run_id": ""}]
)
def test_an_owner_file_this_project_did_not_write_is_refused(claimed):
    assert OWNER.refusal(claimed).startswith("its owner file is not one this project writes: ")


def test_the_project_tags_share_a_prefix():
    assert all(tag["Key"].startswith(TAG_PREFIX) for tag in tags_of())
