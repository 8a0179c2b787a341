"""A reviewer at work in Label Studio's own labeling UI, in headless chromium, during a real run.

detect_and_review runs with review_backend labelstudio (dag.test, in the main thread: its tasks set
signal handlers) on the first sample images, two of which need review. Meanwhile a reviewer thread
drives a browser: logs in with the harness's login, opens the project and the task of street-04,
checks that the image loaded and that the model's boxes are shown, drags the car's box a known
number of screen pixels, picks a label and draws the far-away person the model was unsure of, and
submits; the other gated image is answered through the REST API. The run then succeeds, and
results.jsonl holds exactly what the reviewer left: the moved box where it was dropped (within a
pixel or two, from the image's displayed scale to its stored pixels), the drawn one, and the
untouched model box as the model gave it.

The canvas (Konva) is driven with real mouse events at positions computed from the displayed
image's bounding box (Label Studio may show it zoomed and shifted; the box says where each stored
pixel is). Screenshots of every step go to test-artifacts/browser/labelstudio/.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import re
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from labelstudio_world import LABELS, TRUTH, file_name, published, states
from playwright.sync_api import Page, expect, sync_playwright

from hitl_detection.hooks.label_studio import LabelStudioApiError, LabelStudioHook
from tests.browser.chromium import CHROMIUM, CHROMIUM_FLAGS, MISSING

log = logging.getLogger(__name__)

pytestmark = [pytest.mark.labelstudio, pytest.mark.browser, pytest.mark.stack, pytest.mark.timeout(900)]

# street-01 .. street-05: street-04 and street-05 need review (see local_aws.endpoint.detector).
MAX_IMAGES = 5
IN_THE_BROWSER = "street-04.jpg"
ANSWERED_BY_API = ["street-05.jpg"]
# The reviewer drags the model's car box by this many screen pixels (right, up).
MOVED_LABEL = "car"
MOVE = (48, -24)
# ... and draws the far-away person (the model's uncertain hint) with a margin, in stored pixels.
DRAWN_LABEL = "person"
DRAWN_MARGIN = 4
VIEWPORT = {"width": 1400, "height": 1000}
# The image name in include/templates/label_studio_bounding_box.xml.j2; Label Studio's <img> has it as alt.
IMAGE_SELECTOR = 'img[alt="image"]'
TASKS_TIMEOUT = 300
STEP_TIMEOUT_MS = 30_000
expect.set_options(timeout=STEP_TIMEOUT_MS)


@dataclass(frozen=True)
class Shown:
    """Where the image is on the screen: its top-left corner and screen pixels per stored pixel."""

    left: float
    top: float
    scale_x: float
    scale_y: float
    canvas: tuple[float, float, float, float]  # the visible drawing area: left, top, right, bottom

    def screen(self, x: float, y: float) -> tuple[int, int]:
        """The whole screen pixel nearest to stored pixel (x, y)."""
        return round(self.left + x * self.scale_x), round(self.top + y * self.scale_y)

    def stored(self, x: float, y: float) -> tuple[float, float]:
        return (x - self.left) / self.scale_x, (y - self.top) / self.scale_y

    @property
    def tolerance(self) -> float:
        """How far a box may land from where it was put: a screen pixel in stored pixels, plus one
        for the rounding of percent to whole pixels."""
        return 1 / min(self.scale_x, self.scale_y) + 1


@pytest.fixture
def shots(project_root) -> Path:
    """test-artifacts/browser/labelstudio/ (git-ignored), emptied first."""
    folder = project_root / "test-artifacts" / "browser" / "labelstudio"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def test_a_reviewer_moves_a_box_and_draws_a_missing_one_in_label_studio(
    world, dag_bag, shots, label_studio_log
):
    if not CHROMIUM.exists():
        pytest.fail(MISSING)
    hook = LabelStudioHook()
    reviewer = BrowserReviewer(world, hook, shots)
    reviewer.start()
    try:
        run = dag_bag.get_dag("detect_and_review").test(run_conf=world.conf(max_images=MAX_IMAGES))
    finally:
        reviewer.stop()
        shutil.copy(label_studio_log, shots / "label-studio.log")
    reviewer.raise_error()

    assert run.state == "success", states(run)
    summary, records = published(world.stack, run)
    by_name = {file_name(record): record for record in records}
    assert sorted(name for name, r in by_name.items() if r["status"] == "reviewed") == sorted(
        [IN_THE_BROWSER, *ANSWERED_BY_API]
    ), summary
    assert summary["by_status"]["review_failed"] == 0

    record = by_name[IN_THE_BROWSER]
    done = reviewer.done
    assert record["review"]["task_id"] == done.task_id
    assert record["review"]["reviewers"] == [world.studio.username]
    tolerance = done.shown.tolerance
    # Exactly these boxes: the model's untouched ones as the model gave them, the moved and the drawn one.
    boxes = record["boxes"]
    assert len(boxes) == len(done.kept) + 2, boxes
    for kept in done.kept:
        assert kept | {"source": "model"} in boxes, (kept, boxes)
    human = [box for box in boxes if box["source"] == "human"]
    assert len(human) == 2, boxes
    moved = _only(human, done.moved["label"])
    drawn = _only([box for box in human if box is not moved], DRAWN_LABEL)
    assert_near(moved, done.moved, tolerance)
    assert_near(drawn, done.drawn, tolerance)
    assert moved["score"] is None
    assert drawn["score"] is None
    # What changed, as the record tells it: the car moved from the model's box, the person added.
    changes = record["changes"]
    assert changes["removed"] == []
    assert changes["added"] == [drawn]
    [(was, now)] = [(change["from"], change["to"]) for change in changes["moved"]]
    assert {key: was[key] for key in ("label", "left", "top", "width", "height")} == done.model_box
    assert now == moved

    # The image answered through the API kept the model's boxes, every one as the model gave it.
    for name in ANSWERED_BY_API:
        other = by_name[name]
        assert other["status"] == "reviewed"
        assert other["boxes"], other
        assert all(box["source"] == "model" for box in other["boxes"]), other["boxes"]
    (shots / "timings.json").write_text(json.dumps(reviewer.timings, indent=1) + "\n")


@dataclass
class Review:
    """What the browser reviewer did, in stored pixels of the image."""

    task_id: int
    shown: Shown
    model_box: dict[str, Any]  # the box that was moved, before
    moved: dict[str, Any]  # ... and where it was dropped
    drawn: dict[str, Any]
    kept: list[dict[str, Any]]  # the model's other boxes, left alone (label, place, score)


class BrowserReviewer:
    """A thread that reviews IN_THE_BROWSER in headless chromium, and answers the run's other tasks
    through the REST API (accepting the model's boxes), until stopped.

    Should the browser part fail, its error is kept for the test to raise and the task is skipped
    through the API, so that the run ends instead of waiting days for a review.
    """

    def __init__(self, world, hook: LabelStudioHook, shots: Path) -> None:
        self.world = world
        self.hook = hook
        self.shots = shots
        self.done: Review | None = None
        self.error: BaseException | None = None
        self.timings: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name="browser-reviewer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=120)
        if self._thread.is_alive() and self.error is None:
            self.error = TimeoutError("the browser reviewer did not stop within 120 s")

    def raise_error(self) -> None:
        if self.error is not None:
            raise AssertionError(
                f"the reviewer in the browser failed (screenshots in {self.shots}): {self.error}"
            ) from self.error
        assert self.done is not None, "the run ended before its task was reviewed in the browser"

    def _work(self) -> None:
        started = time.monotonic()
        task = self._wait_for_task(IN_THE_BROWSER)
        if task is not None:
            self.timings["task imported after"] = round(time.monotonic() - started, 1)
            try:
                self.done = self._review_in_the_browser(task)
            except BaseException as error:
                self.error = error
        while not self._stop.is_set():
            try:
                self._answer_the_others()
            except (httpx.HTTPError, LabelStudioApiError) as error:  # busy: the next round tries again
                log.warning("Answering the other tasks failed, trying again: %s", error)
            self._stop.wait(0.5)

    def _wait_for_task(self, name: str) -> dict[str, Any] | None:
        deadline = time.monotonic() + TASKS_TIMEOUT
        while not self._stop.is_set():
            for task in self.world.tasks():
                if task["data"]["image_key"].rsplit("/", 1)[-1] == name:
                    return task
            if time.monotonic() > deadline:
                self.error = TimeoutError(f"no Label Studio task for {name} after {TASKS_TIMEOUT} s")
                return None
            self._stop.wait(1)
        return None

    def _answer_the_others(self) -> None:
        """Accept the model's boxes on every other task; skip the browser's task if it failed."""
        for task in self.world.tasks():
            if task["total_annotations"] or task["cancelled_annotations"]:
                continue
            if task["data"]["image_key"].rsplit("/", 1)[-1] == IN_THE_BROWSER:
                if self.error is not None:
                    self.hook.skip_task(task["id"])
                continue
            [prediction] = task["predictions"]
            self.hook.create_annotation(task["id"], prediction["result"], lead_time=3.0)

    def _review_in_the_browser(self, task: dict[str, Any]) -> Review:
        clock = time.monotonic()

        def lap(step: str) -> None:
            nonlocal clock
            self.timings[step] = round(time.monotonic() - clock, 1)
            clock = time.monotonic()

        studio = self.world.studio
        title = self.hook.get_project(self.world.project_id)["title"]
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
            )
            try:
                page = browser.new_context(viewport=VIEWPORT).new_page()
                page.set_default_timeout(STEP_TIMEOUT_MS)
                lap("chromium started")
                try:
                    review = self._steps(page, studio, title, task, lap)
                except BaseException:
                    page.screenshot(path=str(self.shots / "failure.png"))
                    raise
            finally:
                browser.close()
        return review

    def _steps(self, page: Page, studio, title: str, task: dict[str, Any], lap) -> Review:
        shot = self._shot(page)
        width, height = task["data"]["image_width"], task["data"]["image_height"]

        # 1. Log in as the harness's user.
        page.goto(f"{studio.url}/user/login/")
        # The form's fields have no labels tied to them; their names are those the form posts.
        page.locator('input[name="email"]').fill(studio.username)
        page.locator('input[name="password"]').fill(studio.password)
        shot("01-login")
        page.get_by_role("button", name="Log In").click()
        expect(page).not_to_have_url(re.compile(r"/user/login"))
        lap("logged in")

        # 2. The project, from the projects list; its data manager lists the run's tasks.
        page.goto(f"{studio.url}/projects/")
        project_link = page.get_by_role("link").filter(has_text=title)
        expect(project_link).to_be_visible()
        shot("02-projects")
        project_link.click()
        expect(page).to_have_url(re.compile(rf"/projects/{self.world.project_id}/data"))
        row = page.get_by_text(task["data"]["image_key"], exact=True)
        expect(row).to_be_visible()
        shot("03-project-tasks")
        lap("project opened")

        # 3. The task of the gated image: the stored image loads, from the stand-in's S3 through
        # the project's storage, and the model's boxes are shown as regions to correct.
        row.click()
        expect(page).to_have_url(re.compile(rf"[?&]task={task['id']}\b"))
        image = page.locator(IMAGE_SELECTOR)
        expect(image).to_have_count(1)
        page.wait_for_function(
            "([selector, width]) => { const img = document.querySelector(selector);"
            " return img && img.complete && img.naturalWidth === width }",
            arg=[IMAGE_SELECTOR, width],
        )
        assert image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [width, height]
        # Label Studio links the image to its resolver, which sends the browser on to a presigned URL
        # of the stand-in's S3. Playwright's network events show no such redirect for the image here,
        # so the page follows the link once more itself.
        uri = task["data"]["image"]
        link = f"/tasks/{task['id']}/resolve/?fileuri={base64.urlsafe_b64encode(uri.encode()).decode()}"
        url, status = page.evaluate(
            "async link => { const answer = await fetch(link); return [answer.url, answer.status] }", link
        )
        assert url.startswith(f"{self.world.stack.moto_url}/{uri.removeprefix('s3://')}?"), url
        assert "Signature=" in url, url
        assert status == 200, (status, url)
        [prediction] = task["predictions"]
        predicted = [_pixels(region, width, height) for region in prediction["result"]]
        regions = page.locator(".lsf-outliner .lsf-tree__node")
        expect(regions).to_have_count(len(predicted))
        shown_labels = sorted(
            next(line for line in text.splitlines() if line in LABELS) for text in regions.all_inner_texts()
        )
        assert shown_labels == sorted(box["label"] for box in predicted)
        expect(page.get_by_text(prediction["model_version"], exact=True).first).to_be_visible()
        shown = self._settled(page)
        shot("04-task-with-the-models-boxes")
        lap("task opened")

        # 4. Drag the car's box by MOVE screen pixels, from its middle.
        [model_box] = [box for box in predicted if box["label"] == MOVED_LABEL]
        kept = [box for box in predicted if box is not model_box]
        x, y = shown.screen(
            model_box["left"] + model_box["width"] / 2, model_box["top"] + model_box["height"] / 2
        )
        self._drag(page, shown, (x, y), (x + MOVE[0], y + MOVE[1]))
        expect(regions).to_have_count(len(predicted))
        moved = model_box | {
            "left": model_box["left"] + MOVE[0] / shown.scale_x,
            "top": model_box["top"] + MOVE[1] / shown.scale_y,
        }
        shot("05-car-box-moved")
        lap("box moved")

        # 5. Pick the label (with no region selected, else the click would relabel it) and draw
        # the far-away person around its ground truth.
        page.keyboard.press("Escape")
        shown = self._settled(page)
        expect(page.locator(".lsf-outliner .lsf-tree-node-selected")).to_have_count(0)
        label = page.locator(".lsf-labels .lsf-label").filter(has=page.get_by_text(DRAWN_LABEL, exact=True))
        label.click()
        expect(label).to_have_class(re.compile(r"lsf-label_selected"))
        [person] = [
            t for t in TRUTH[IN_THE_BROWSER] if t["label"] == DRAWN_LABEL and t["difficulty"] == "hard"
        ]
        start = shown.screen(person["left"] - DRAWN_MARGIN, person["top"] - DRAWN_MARGIN)
        end = shown.screen(
            person["left"] + person["width"] + DRAWN_MARGIN, person["top"] + person["height"] + DRAWN_MARGIN
        )
        self._drag(page, shown, start, end)
        expect(regions).to_have_count(len(predicted) + 1)
        (left, top), (right, bottom) = shown.stored(*start), shown.stored(*end)
        drawn = {
            "label": DRAWN_LABEL,
            "left": left,
            "top": top,
            "width": right - left,
            "height": bottom - top,
        }
        shot("06-missing-person-drawn")
        lap("box drawn")

        # 6. Submit.
        with page.expect_response(
            lambda answer: (
                answer.request.method == "POST"
                and answer.url.split("?")[0].endswith(f"/api/tasks/{task['id']}/annotations")
            )
        ) as submitted:
            page.get_by_role("button", name="Submit current annotation").click()
        assert submitted.value.status == 201, submitted.value.text()
        expect(page.get_by_text("Annotation saved successfully", exact=True)).to_be_visible()
        shot("07-submitted")
        lap("submitted")
        return Review(task["id"], shown, _box(model_box), moved, drawn, kept)

    def _settled(self, page: Page) -> Shown:
        """Where the image is once the layout has stopped moving (panels, zoom to fit)."""
        measure = (
            "([selector, stage]) => { const img = document.querySelector(selector);"
            " const r = img.getBoundingClientRect();"
            " const s = img.closest('.lsf-object, body').querySelector(stage).getBoundingClientRect();"
            " return [r.left, r.top, r.width / img.naturalWidth, r.height / img.naturalHeight,"
            " s.left, s.top, s.right, s.bottom] }"
        )
        last = None
        for _ in range(40):
            now = page.evaluate(measure, [IMAGE_SELECTOR, ".konvajs-content"])
            if now == last:
                return Shown(*now[:4], canvas=tuple(now[4:]))
            last = now
            page.wait_for_timeout(250)
        raise AssertionError(f"the image never settled on the page: last at {last}")

    def _drag(self, page: Page, shown: Shown, start: tuple[int, int], end: tuple[int, int]) -> None:
        """Press, move in steps and release, as a hand does; both ends must be on the visible canvas."""
        left, top, right, bottom = shown.canvas
        for x, y in (start, end):
            on_canvas = left <= x < right and top <= y < bottom
            assert on_canvas, f"({x}, {y}) is off the canvas {shown.canvas}"
        page.mouse.move(*start)
        page.mouse.down()
        page.mouse.move(*end, steps=12)
        page.mouse.up()

    def _shot(self, page: Page):
        def take(name: str) -> None:
            page.screenshot(path=str(self.shots / f"{name}.png"))

        return take


def _pixels(region: dict[str, Any], width: int, height: int) -> dict[str, Any]:
    """A predicted region as the record's box: stored pixels, label and score."""
    value = region["value"]
    return {
        "label": value["rectanglelabels"][0],
        "left": round(value["x"] * width / 100),
        "top": round(value["y"] * height / 100),
        "width": round(value["width"] * width / 100),
        "height": round(value["height"] * height / 100),
        "score": region["score"],
    }


def _box(box: dict[str, Any]) -> dict[str, Any]:
    return {key: box[key] for key in ("label", "left", "top", "width", "height")}


def _only(boxes: list[dict[str, Any]], label: str) -> dict[str, Any]:
    [found] = [box for box in boxes if box["label"] == label]
    return found


def assert_near(box: dict[str, Any], expected: dict[str, Any], tolerance: float) -> None:
    assert box["label"] == expected["label"]
    assert box["label"] in LABELS
    off = {key: box[key] - expected[key] for key in ("left", "top", "width", "height")}
    assert all(math.fabs(value) <= tolerance for value in off.values()), (
        f"{box} is off {expected} by {off} (tolerance {tolerance:.2f} px)"
    )
