"""The world the fault cases run in: pipeline_world's (sample images, an Active flow definition)
with time scaled down, more images when a case needs several shards, and reviewers who do to
chosen images what people and operators do to loops (fail, expire, stop, delete, never answer).

Time is scaled, not the behaviour: every AWS call gets 3 attempts (the connection's botocore
config; the hooks default to 10, about a minute of patience a call) and the DAG's tasks retry at
once (pipeline_world's settings), so an outage of minutes is played in seconds.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pipeline"))

from pipeline_world import SAMPLES, World

from local_aws.actors.scripted_reviewer import ScriptedReviewer

ATTEMPTS_PER_CALL = 3
REVIEWER_POLL_SECONDS = 0.2


def scaled_connection(conn_uri_env: str) -> str:
    """The stand-in's `aws_default` with ATTEMPTS_PER_CALL attempts per call, in standard mode."""
    connection = json.loads(conn_uri_env)
    connection["extra"]["config_kwargs"] = {
        "retries": {"mode": "standard", "max_attempts": ATTEMPTS_PER_CALL}
    }
    return json.dumps(connection)


def copy_samples(s3, bucket: str, prefix: str, count: int) -> list[str]:
    """`count` images under `prefix`, copies of the samples in turn (which carry their truth, for
    the scripted reviewers), so that a run has more images than the samples; returns their keys."""
    samples = sorted(SAMPLES.glob("street-*"))
    keys = []
    for number in range(count):
        sample = samples[number % len(samples)]
        key = f"{prefix}copy-{number:04d}-{sample.name}"
        s3.put_object(Bucket=bucket, Key=key, Body=sample.read_bytes())
        keys.append(key)
    return keys


def set_task(dag, task_id: str, **attributes) -> None:
    """Change a task of a parsed DAG before `dag.test()` runs it, as a deployment's settings would
    (a review deadline of seconds instead of 11 days; more task retries at short delays)."""
    task = dag.get_task(task_id)
    for name, value in attributes.items():
        setattr(task, name, value)


def retrying(dag, task_id: str, retries: int, delay_seconds: float) -> None:
    set_task(dag, task_id, retries=retries, retry_delay=timedelta(seconds=delay_seconds))


def image_of(loop: dict) -> str:
    """The file name of the image a loop (as the reviewer API lists it) reviews."""
    return loop["InputContent"]["taskObject"].rsplit("/", 1)[-1]


class Reviewers:
    """Scripted reviewers answering every pending loop, except that the loops of the images in
    `actions` get that action instead, once: "fail" (A2I fails it: InternalError), "expire" (no
    worker took it in time), "stop" (StopHumanLoop, as from the console), "delete" (stopped, then
    DeleteHumanLoop), "leave" (nobody ever answers). `delay_seconds`: a loop is answered only once
    it is that old, so that the wait really waits."""

    def __init__(self, world: World, actions: dict[str, str] | None = None, delay_seconds: float = 0.0):
        self.world = world
        self.actions = dict(actions or {})
        self.done: dict[str, str] = {}  # loop name -> action taken
        self._scripted = ScriptedReviewer(
            world.stack.emulator_url, world.client("s3"), delay_seconds=delay_seconds
        )
        self._a2i = world.client("sagemaker-a2i-runtime")
        self._actions: dict[str, Callable[[str], None]] = {
            "fail": lambda name: self._fail(name, "InternalError", "The worker task could not be shown"),
            "expire": lambda name: self._fail(name, "Expired", "No worker took the task in time"),
            "stop": lambda name: self._a2i.stop_human_loop(HumanLoopName=name),
            "delete": self._delete,
            "leave": lambda name: None,
        }
        unknown = set(self.actions.values()) - set(self._actions)
        if unknown:
            raise ValueError(f"unknown loop actions {sorted(unknown)}; expected {sorted(self._actions)}")

    def poll_once(self) -> None:
        pending = requests.get(
            f"{self.world.stack.emulator_url}/reviewer/loops", params={"status": "pending"}, timeout=10
        )
        pending.raise_for_status()
        for loop in pending.json()["loops"]:
            action = self.actions.get(image_of(loop))
            if action is not None and loop["HumanLoopName"] not in self.done:
                self._actions[action](loop["HumanLoopName"])
                self.done[loop["HumanLoopName"]] = action
        self._scripted.poll_once(only=lambda loop: image_of(loop) not in self.actions)

    @contextmanager
    def running(self) -> Iterator[Reviewers]:
        """Reviewing in a thread until the block ends; a reviewer's own failure fails the test."""
        stop = threading.Event()
        failures: list[BaseException] = []

        def work() -> None:
            while not stop.wait(REVIEWER_POLL_SECONDS):
                try:
                    self.poll_once()
                except Exception as error:  # reported when the block ends
                    failures.append(error)
                    return

        thread = threading.Thread(target=work, name="fault-reviewers", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join(timeout=10)
        if failures:
            raise RuntimeError(f"the scripted reviewers failed: {failures[0]!r}") from failures[0]

    def _fail(self, name: str, code: str, reason: str) -> None:
        requests.post(
            f"{self.world.stack.emulator_url}/reviewer/loops/{name}/fail",
            json={"FailureCode": code, "FailureReason": reason},
            timeout=10,
        ).raise_for_status()

    def _delete(self, name: str) -> None:
        self._a2i.stop_human_loop(HumanLoopName=name)
        self._a2i.delete_human_loop(HumanLoopName=name)
