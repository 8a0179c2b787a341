"""The Airflow UI in a real browser, as a user meets it after `make airflow`.

Logs in, runs review_workflow_setup from its trigger form and reads the flow definition ARN from
the task's XCom page, fills detect_and_review's trigger form (threshold, labels, S3 URIs, flow
definition, execution role), triggers it, and watches the run page until the run succeeds while
the stand-in's scripted reviewer answers the human loops. Screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

import json
import re
import time
from urllib.parse import unquote

import pytest
from playwright.sync_api import Locator, Page, expect

from scripts.airflow_local import BUCKET, FORM_VALUES, LocalAirflow

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

THRESHOLD = 0.8
LABELS = ["car", "person", "bus"]
SETUP_RUN_TIMEOUT = 120
DETECT_RUN_TIMEOUT = 420
TERMINAL_STATES = ("Success", "Failed")
expect.set_options(timeout=30_000)


def test_trigger_detect_and_review_from_the_ui_and_see_it_succeed(
    page: Page, airflow: LocalAirflow, artifacts
):
    started = time.monotonic()
    log_in(page, airflow)

    # 1. The review workflow, from review_workflow_setup's form.
    form = open_trigger_form(page, airflow, "review_workflow_setup")
    for param, value in FORM_VALUES["review_workflow_setup"].items():
        fill(form, param, value)
    run_id = trigger(page, form, "review_workflow_setup")
    state = wait_for_run_state(page, airflow, "review_workflow_setup", run_id, SETUP_RUN_TIMEOUT)
    assert state == "Success", failure_report(airflow, "review_workflow_setup", run_id)
    flow_definition_arn = xcom_return_value(
        page, airflow, "review_workflow_setup", run_id, "ensure_flow_definition"
    )
    assert flow_definition_arn == FORM_VALUES["detect_and_review"]["flow_definition_arn"]
    page.screenshot(path=str(artifacts / "review_workflow_setup-xcom.png"))

    # 2. detect_and_review, from its form.
    form = open_trigger_form(page, airflow, "detect_and_review")
    values = FORM_VALUES["detect_and_review"] | {"flow_definition_arn": flow_definition_arn}
    for param, value in values.items():
        fill(form, param, value)
    fill(form, "threshold", str(THRESHOLD))
    fill(form, "labels", "\n".join(LABELS))
    expect(form.get_by_test_id("trigger-dag-submit")).to_be_enabled()
    screenshot_whole_form(page, form, artifacts / "detect_and_review-trigger-form.png")
    run_id = trigger(page, form, "detect_and_review")

    # What was typed is what the run got.
    conf = airflow.api("GET", f"dags/detect_and_review/dagRuns/{run_id}")["conf"]
    assert conf["threshold"] == THRESHOLD
    assert conf["labels"] == LABELS
    assert conf["input_s3_uri"] == f"s3://{BUCKET}/images/"
    assert conf["flow_definition_arn"] == flow_definition_arn
    assert conf["execution_role_arn"] == values["execution_role_arn"]

    state = wait_for_run_state(page, airflow, "detect_and_review", run_id, DETECT_RUN_TIMEOUT)
    assert state == "Success", failure_report(airflow, "detect_and_review", run_id)
    # The run page, fresh: every task instance listed has finished, none failed.
    page.reload()
    expect(run_badge(page, run_id)).to_have_text("Success")
    expect(page.get_by_text(re.compile(r"^\d+ Task Instances$"))).to_be_visible()
    task_states = page.locator("tbody").get_by_test_id("state-badge")
    expect(task_states.first).to_be_visible()
    expect(task_states.filter(has_text=re.compile("Running|Queued|Scheduled|Deferred"))).to_have_count(0)
    states = {text.strip() for text in task_states.all_inner_texts()}
    assert states <= {"Success", "Skipped"}, states
    page.screenshot(path=str(artifacts / "detect_and_review-run-success.png"))

    # The run reviewed images, and it waited for the reviews in the triggerer.
    summary = run_summary(airflow, conf["output_s3_uri"])
    assert summary["images"] == 12
    assert summary["by_status"].get("reviewed", 0) > 0, summary
    # The sensor deferred, and the triggerer imported ReviewsTrigger (from the plugins folder), ran
    # it and fired its event: the task's log, as the UI shows it, has the triggerer's lines.
    page.goto(f"{airflow.url}/dags/detect_and_review/runs/{run_id}/tasks/wait_for_reviews")
    expect(
        page.get_by_text(re.compile(r"trigger detect_and_review/.+/wait_for_reviews/.+ starting"))
    ).to_be_visible()
    expect(page.get_by_text("Trigger fired event")).to_be_visible()
    page.screenshot(path=str(artifacts / "wait_for_reviews-log.png"))
    print(f"browser test: {time.monotonic() - started:.0f} s after Airflow was up")


def log_in(page: Page, airflow: LocalAirflow) -> None:
    page.goto(f"{airflow.url}/")
    expect(page).to_have_url(re.compile(r"/auth/login"))
    page.get_by_label("Username").fill(airflow.username)
    page.get_by_label("Password").fill(airflow.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="Dags", exact=True)).to_be_visible()


def open_trigger_form(page: Page, airflow: LocalAirflow, dag_id: str) -> Locator:
    page.goto(f"{airflow.url}/dags/{dag_id}")
    page.get_by_role("button", name="Trigger Dag").click()
    form = page.get_by_role("dialog")
    expect(form.get_by_role("heading", name=f"Trigger Dag - {dag_id}")).to_be_visible()
    return form


def fill(form: Locator, param: str, value: str) -> None:
    """Type into a param's field: inputs, number inputs and textareas are all named element_<param>."""
    field = form.locator(f'[name="element_{param}"]')
    field.fill(value)
    field.press("Tab")  # number inputs take their value on blur
    expect(field).to_have_value(value)


def screenshot_whole_form(page: Page, form: Locator, path) -> None:
    """The trigger form, all of it: a page tall enough that the dialog does not scroll."""
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": 2400})
    form.get_by_role("heading").first.click()  # blur the last field, so no field shows selected
    page.screenshot(path=str(path))
    page.set_viewport_size(size)


def trigger(page: Page, form: Locator, dag_id: str) -> str:
    """Press Trigger; the UI moves to the new run's page. Returns the run id."""
    form.get_by_test_id("trigger-dag-submit").click()
    page.wait_for_url(re.compile(rf"/dags/{dag_id}/runs/[^/]+$"))
    return unquote(page.url.rsplit("/", 1)[1])


def run_badge(page: Page, run_id: str) -> Locator:
    """The state badge beside the run id at the top of the run page."""
    return page.locator(f'h2:text-is("{run_id}") ~ [data-testid="state-badge"]')


def wait_for_run_state(page: Page, airflow: LocalAirflow, dag_id: str, run_id: str, timeout: float) -> str:
    """Watch the run page until its badge shows Success or Failed; the page refreshes itself,
    and is reloaded every 30 s all the same."""
    page.goto(f"{airflow.url}/dags/{dag_id}/runs/{run_id}")
    badge = run_badge(page, run_id)
    deadline = time.monotonic() + timeout
    reloaded = time.monotonic()
    while True:
        expect(badge).to_be_visible()
        state = badge.inner_text().strip()
        if state in TERMINAL_STATES:
            return state
        if time.monotonic() > deadline:
            pytest.fail(
                f"{dag_id} run still {state!r} after {timeout} s\n{failure_report(airflow, dag_id, run_id)}"
            )
        if time.monotonic() - reloaded > 30:
            page.reload()
            reloaded = time.monotonic()
        page.wait_for_timeout(2000)


def xcom_return_value(page: Page, airflow: LocalAirflow, dag_id: str, run_id: str, task_id: str) -> str:
    """The task's return value, as its XCom tab shows it."""
    page.goto(f"{airflow.url}/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/xcom")
    row = page.get_by_role("row").filter(
        has=page.get_by_test_id("table-cell-key").filter(has_text="return_value")
    )
    return row.get_by_test_id("xcom-value").locator("p").inner_text().strip()


def run_summary(airflow: LocalAirflow, output_s3_uri: str) -> dict:
    """summary.json of the run's folder under output_s3_uri, read from the stand-in's S3."""
    prefix = output_s3_uri.removeprefix(f"s3://{BUCKET}/")
    s3 = airflow.stack.client("s3")
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]
    (summary_key,) = [key for key in keys if key.endswith("/summary.json")]
    return json.loads(s3.get_object(Bucket=BUCKET, Key=summary_key)["Body"].read())


def failure_report(airflow: LocalAirflow, dag_id: str, run_id: str) -> str:
    try:
        instances = airflow.api("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=200")[
            "task_instances"
        ]
        states = ", ".join(f"{ti['task_id']}[{ti['map_index']}]={ti['state']}" for ti in instances)
    except Exception as error:  # the report must not hide the failure it reports
        states = f"(task states unavailable: {error!r})"
    return f"task instances: {states}\nstandalone log tail:\n{airflow.log_tail(80)}"
