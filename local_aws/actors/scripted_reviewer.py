"""A scripted reviewer: answers pending A2I human loops from the truth inside each image.

It lets a demo or an end-to-end test run unattended against the A2I emulator, which serves
``GET /reviewer/loops?status=pending`` and ``POST /reviewer/loops/{name}/answers``. It answers
as a careful human would: the true boxes of the task's labels, including the objects the model
missed, with a deterministic 0-2 px wobble for every worker after the first.

``python -m local_aws.actors.scripted_reviewer --emulator-url URL --s3-endpoint-url URL [--workers N]
[--delay S] [--once]``
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import io
import logging
import os
import random
import signal
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from urllib.parse import quote

import boto3
import requests
from botocore.exceptions import BotoCoreError, ClientError
from PIL import Image

from local_aws.actors.samples import read_truth

log = logging.getLogger(__name__)

WORKER_PREFIX = "scripted-reviewer-"
_HTTP_TIMEOUT = 10
_MAX_WOBBLE = 2


def answer_for(input_content: dict, image_bytes: bytes, worker_index: int) -> dict:
    """The answerContent of one worker: the true boxes of the task's labels, in image pixels.

    Worker 0 draws the truth exactly, others wobble each edge by up to 2 px (seeded by the image
    and the worker). Without truth in the image it leaves the model's initialValue unchanged.
    """
    with Image.open(io.BytesIO(image_bytes)) as image:
        width, height = image.size
    truth = read_truth(image_bytes)
    if truth is None:
        boxes = copy.deepcopy(input_content.get("initialValue", []))
    else:
        labels = input_content.get("labels")
        if not isinstance(labels, list):
            raise ValueError(f"the task input has no list of labels: {labels!r}")
        seed = hashlib.sha256(image_bytes + f"/worker-{worker_index}".encode()).digest()
        rng = random.Random(seed)
        boxes = [
            _wobbled(t, rng, width, height)
            if worker_index
            else {key: t[key] for key in ("label", "left", "top", "width", "height")}
            for t in truth
            if t["label"] in labels
        ]
    return {
        "annotatedResult": {
            "boundingBoxes": boxes,
            "inputImageProperties": {"width": width, "height": height},
        }
    }


def _wobbled(truth: dict, rng: random.Random, width: int, height: int) -> dict:
    def nudge(value: int, low: int, high: int) -> int:
        return min(max(value + rng.randint(-_MAX_WOBBLE, _MAX_WOBBLE), low), high)

    left = nudge(truth["left"], 0, width - 1)
    top = nudge(truth["top"], 0, height - 1)
    right = nudge(truth["left"] + truth["width"], left + 1, width)
    bottom = nudge(truth["top"] + truth["height"], top + 1, height)
    return {"label": truth["label"], "left": left, "top": top, "width": right - left, "height": bottom - top}


def _split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ValueError(f"taskObject {uri!r} is not an s3://bucket/key URI")
    bucket, key = uri[5:].split("/", 1)
    return bucket, key


class ScriptedReviewer:
    """Polls the emulator's reviewer API and answers each pending loop as up to `workers` workers."""

    def __init__(self, emulator_url: str, s3_client, workers: int = 1, delay_seconds: float = 0.0):
        if workers < 1:
            raise ValueError(f"workers {workers} is below 1")
        self.emulator_url = emulator_url.rstrip("/")
        self.s3_client = s3_client
        self.workers = workers
        self.delay_seconds = delay_seconds
        self._session = requests.Session()

    def poll_once(self, only: Callable[[dict], bool] | None = None) -> int:
        """Answers every pending loop older than delay_seconds (of those `only` takes, given the
        loop as the reviewer API lists it); returns the answers submitted."""
        response = self._session.get(
            f"{self.emulator_url}/reviewer/loops", params={"status": "pending"}, timeout=_HTTP_TIMEOUT
        )
        response.raise_for_status()
        now = datetime.now(UTC)
        submitted = 0
        for loop in response.json()["loops"]:
            created = datetime.fromisoformat(loop["CreationTime"])
            age = (now - (created if created.tzinfo else created.replace(tzinfo=UTC))).total_seconds()
            if age >= self.delay_seconds and (only is None or only(loop)):
                submitted += self._answer(loop)
        return submitted

    def _answer(self, loop: dict) -> int:
        name = loop["HumanLoopName"]
        answered = set(loop.get("WorkerIds", []))
        still_needed = loop["TaskCount"] - loop["AnswersReceived"]
        workers = [
            (index, f"{WORKER_PREFIX}{index + 1}")
            for index in range(min(self.workers, loop["TaskCount"]))
            if f"{WORKER_PREFIX}{index + 1}" not in answered
        ][: max(still_needed, 0)]
        if not workers:
            return 0
        task = loop["InputContent"]
        try:
            bucket, key = _split_s3_uri(task["taskObject"])
            image = self.s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
            answers = [(worker_id, answer_for(task, image, index)) for index, worker_id in workers]
        except (BotoCoreError, ClientError, OSError, ValueError) as error:
            log.warning("Cannot review loop %s (%s): %s", name, task.get("taskObject"), error)
            return 0
        submitted = 0
        for worker_id, answer in answers:
            response = self._session.post(
                f"{self.emulator_url}/reviewer/loops/{quote(name, safe='')}/answers",
                timeout=_HTTP_TIMEOUT,
                json={
                    "workerId": worker_id,
                    "answerContent": answer,
                    "timeSpentInSeconds": 4 + 3 * len(answer["annotatedResult"]["boundingBoxes"]),
                },
            )
            if response.status_code == 409:
                log.info("Loop %s no longer takes an answer from %s: %s", name, worker_id, response.text)
                break
            response.raise_for_status()
            submitted += 1
            log.info("Answered loop %s as %s", name, worker_id)
        return submitted

    def run(self, stop_event: threading.Event, poll_seconds: float = 0.5) -> None:
        """Polls until stop_event is set; an unreachable or failing emulator is logged and retried."""
        while not stop_event.is_set():
            try:
                self.poll_once()
            except requests.RequestException as error:
                log.warning("Reviewer poll of %s failed, retrying: %s", self.emulator_url, error)
            stop_event.wait(poll_seconds)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m local_aws.actors.scripted_reviewer",
        description="Answer pending A2I human loops from the truth in the images.",
    )
    parser.add_argument("--emulator-url", required=True, help="base URL of the A2I emulator")
    parser.add_argument("--s3-endpoint-url", required=True, help="S3 endpoint holding the task images")
    parser.add_argument(
        "--workers", type=int, default=1, help="distinct workers answering each loop (default 1)"
    )
    parser.add_argument("--delay", type=float, default=0.0, help="seconds a loop waits before it is answered")
    parser.add_argument("--poll-seconds", type=float, default=0.5, help="seconds between polls (default 0.5)")
    parser.add_argument("--once", action="store_true", help="answer what is pending now, then exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    s3 = boto3.client(
        "s3",
        endpoint_url=args.s3_endpoint_url,
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
    )
    reviewer = ScriptedReviewer(args.emulator_url, s3, workers=args.workers, delay_seconds=args.delay)
    if args.once:
        print(f"submitted {reviewer.poll_once()} answers")
        return
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    reviewer.run(stop, args.poll_seconds)


if __name__ == "__main__":
    main()
