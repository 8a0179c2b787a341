import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hitl_detection.domain.naming import (
    HUMAN_LOOP_NAME_PATTERN,
    SAGEMAKER_NAME_PATTERN,
    DeploymentNames,
    deployment_names,
    human_loop_name,
    human_loop_name_prefix,
    run_folder,
    run_key,
    transform_job_name,
)

# Any unicode, including lone surrogates and control characters.
any_text = st.text(st.characters(codec=None, categories=None), min_size=1, max_size=300)
RUN = "manual__2024-05-01T12:00:00+00:00"


def is_loop_name(name: str) -> bool:
    return 1 <= len(name) <= 63 and re.fullmatch(HUMAN_LOOP_NAME_PATTERN, name) is not None


def test_loop_name_starts_with_the_image_name():
    name = human_loop_name(RUN, "images/Ünïcode Café_01.JPG")
    assert re.fullmatch(r"[0-9a-f]{12}-unicode-cafe-01-[0-9a-f]{32}", name)
    assert is_loop_name(name)


@pytest.mark.parametrize("key", ["images/日本.jpg", "images/---.png", "images/.jpg", "x/"])
def test_loop_name_without_a_readable_part_is_the_digest(key):
    name = human_loop_name(RUN, key)
    assert is_loop_name(name)
    assert re.fullmatch(r"[0-9a-f]{12}-([a-z0-9-]*-)?[0-9a-f]{32}", name)


def test_long_image_names_are_cut_to_fit():
    name = human_loop_name(RUN, "a" * 29 + "-b" + "c" * 100 + ".jpg")
    assert len(name) <= 63
    assert is_loop_name(name)


def test_loop_names_join_run_and_key_unambiguously():
    assert human_loop_name("a-b", "c.jpg") != human_loop_name("a", "b-c.jpg")
    assert human_loop_name("run", "x.jpg") != human_loop_name("run2", "x.jpg")


@given(any_text, any_text)
def test_loop_name_is_valid_and_deterministic(run_id, key):
    name = human_loop_name(run_id, key)
    assert is_loop_name(name)
    assert name == human_loop_name(run_id, key)


@given(any_text, any_text, any_text)
def test_every_loop_of_a_run_starts_with_the_run_prefix_and_no_other(run_id, other_run_id, key):
    assert human_loop_name(run_id, key).startswith(human_loop_name_prefix(run_id))
    if other_run_id != run_id:
        assert human_loop_name_prefix(other_run_id) != human_loop_name_prefix(run_id)


@given(st.tuples(any_text, any_text), st.tuples(any_text, any_text))
def test_loop_names_differ_for_different_run_or_image(first, second):
    if first != second:
        assert human_loop_name(*first) != human_loop_name(*second)


@pytest.mark.parametrize(("run_id", "key"), [("", "a.jpg"), ("run", ""), (None, "a.jpg")])
def test_loop_name_needs_run_and_key(run_id, key):
    with pytest.raises(ValueError, match="is not a non-empty string"):
        human_loop_name(run_id, key)


def test_deployment_names_are_readable_and_share_a_base():
    names = deployment_names(RUN)
    assert isinstance(names, DeploymentNames)
    base = names.model.removesuffix("-model")
    assert re.fullmatch(r"hitl-manual-2024-05-01t12-00-00-00-00-[0-9a-f]{16}", base)
    assert names == (f"{base}-model", f"{base}-config", f"{base}-endpoint")


@given(any_text, st.sampled_from(["hitl", "Team-A", "x", "a" * 20]))
def test_deployment_names_are_valid_sagemaker_names(run_id, prefix):
    names = deployment_names(run_id, prefix)
    assert len(set(names)) == 3
    for name in names:
        assert len(name) <= 63
        assert re.fullmatch(SAGEMAKER_NAME_PATTERN, name)
        assert name.startswith(f"{prefix}-")
    assert deployment_names(run_id, prefix) == names


@given(any_text, any_text)
def test_deployment_names_differ_per_run(first, second):
    if first != second:
        assert deployment_names(first).endpoint != deployment_names(second).endpoint


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("hitl_", "prefix 'hitl_' is not a SageMaker name"),
        ("-hitl", "prefix '-hitl' is not a SageMaker name"),
        ("", "prefix '' is not a SageMaker name"),
        (None, "prefix None is not a SageMaker name"),
        ("a" * 21, "prefix 'a+' has 21 characters, above 20"),
    ],
)
def test_deployment_prefix_must_be_short_and_valid(prefix, message):
    with pytest.raises(ValueError, match=message):
        deployment_names(RUN, prefix)


@given(any_text, st.sampled_from(["jpeg", "png"]), st.integers(1, 99))
def test_transform_job_names_are_valid_and_share_the_deployment_base(run_id, content, attempt):
    name = transform_job_name(run_id, content, attempt)
    assert len(name) <= 63
    assert re.fullmatch(SAGEMAKER_NAME_PATTERN, name)
    assert name == deployment_names(run_id).model.removesuffix("-model") + f"-{content}-{attempt}"


@pytest.mark.parametrize(
    ("content", "attempt", "message"),
    [
        ("JPEG", 1, "content 'JPEG' is not a short content name"),
        ("jpeg", 0, "attempt 0 is not a number from 1 to 99"),
        ("jpeg", 100, "attempt 100 is not a number from 1 to 99"),
        ("png", True, "attempt True is not a number"),
    ],
)
def test_transform_job_names_need_a_content_name_and_an_attempt(content, attempt, message):
    with pytest.raises(ValueError, match=message):
        transform_job_name(RUN, content, attempt)


def test_deployment_names_need_a_run():
    with pytest.raises(ValueError, match="run_id '' is not a non-empty string"):
        deployment_names("")


def test_run_folder_keeps_the_run_id_readable():
    assert re.fullmatch(r"manual__2024-05-01T12-00-00-00-00-[0-9a-f]{16}", run_folder(RUN))
    assert re.fullmatch(r"[0-9a-f]{16}", run_folder("../"))


@given(any_text)
def test_run_folder_is_one_safe_path_segment(run_id):
    folder = run_folder(run_id)
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", folder)
    assert len(folder) <= 100
    assert folder == run_folder(run_id)


@given(any_text, any_text)
def test_run_folders_differ_per_run(first, second):
    if first != second:
        assert run_folder(first) != run_folder(second)


def test_run_folder_needs_a_run():
    with pytest.raises(ValueError, match="run_key '' is not a non-empty string"):
        run_folder("")


def test_a_run_key_reads_as_the_run_the_dag_and_the_deployment():
    key = run_key("prod", "detect_and_review_daily", "scheduled__2026-11-25T00:00:00+00:00")

    assert key == "scheduled__2026-11-25T00:00:00+00:00:detect_and_review_daily:prod"
    assert re.fullmatch(
        r"scheduled__2026-11-25T00-00-00-00-00-detect_and_review_daily-prod-[0-9a-f]{16}", run_folder(key)
    )
    assert deployment_names(key).endpoint.startswith("hitl-scheduled-2026-11-25t00-00-00-00-")


# What Airflow allows in a DAG id, and what a deployment id may be.
dag_ids = st.from_regex(r"[A-Za-z0-9_.-]{1,20}", fullmatch=True)
deployment_ids = st.from_regex(r"[a-z0-9]{1,8}(-[a-z0-9]{1,8})?", fullmatch=True)


@given(st.tuples(deployment_ids, dag_ids, any_text), st.tuples(deployment_ids, dag_ids, any_text))
def test_runs_of_two_deployments_or_dags_never_share_a_key_folder_or_names(first, second):
    if first != second:
        assert run_key(*first) != run_key(*second)
        assert run_folder(run_key(*first)) != run_folder(run_key(*second))
        assert deployment_names(run_key(*first)) != deployment_names(run_key(*second))
        assert human_loop_name_prefix(run_key(*first)) != human_loop_name_prefix(run_key(*second))


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        (("prod", "dag", ""), "run_id '' is not a non-empty string"),
        (("prod", "", "run"), "dag_id '' is not a non-empty string"),
        ((None, "dag", "run"), "deployment_id None is not a non-empty string"),
        (("prod", "a:b", "run"), "dag_id 'a:b' holds a colon"),
        (("pro:d", "dag", "run"), "deployment_id 'pro:d' holds a colon"),
    ],
)
def test_a_run_key_needs_three_ids_and_no_colon_but_in_the_run_id(ids, message):
    with pytest.raises(ValueError, match=message):
        run_key(*ids)
