"""Constants and request bodies shared by the tests of the local AWS stand-in."""

from pathlib import Path

from botocore.config import Config

FLOW_ACTIVATION_SECONDS = 0.1  # what the session stack in tests/conftest.py is started with
ROLE_ARN = "arn:aws:iam::123456789012:role/a2i-review"
WORKTEAM_ARN = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/reviewers"
OUTPUT_BUCKET = "a2i-output"
IMAGE_BUCKET = "images"
PROJECT_TEMPLATE = (
    Path(__file__).resolve().parents[2] / "include" / "templates" / "a2i_bounding_box.liquid.html"
)

TEMPLATE = """<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>
<crowd-form>
  <crowd-bounding-box name="annotatedResult"
    src="{{ task.input.taskObject | grant_read_access }}"
    header="Review the boxes"
    labels="{{ task.input.labels | to_json | escape }}"
    initial-value="{{ task.input.initialValue | to_json | escape }}">
    <full-instructions header="Boxes">
      Draw a box around every {{ task.input.labels | join: ", " }}.
    </full-instructions>
    <short-instructions>One tight box per object.</short-instructions>
  </crowd-bounding-box>
</crowd-form>
"""


def task_input(**overrides) -> dict:
    """A valid input for TEMPLATE: one car box on an image."""
    return {
        "taskObject": f"s3://{IMAGE_BUCKET}/street-01.jpg",
        "labels": ["car", "person"],
        "initialValue": [{"label": "car", "left": 10, "top": 20, "width": 30, "height": 40}],
        **overrides,
    }


def answer(worker_id: str = "worker-1", label: str = "car") -> dict:
    """A reviewer API answer body with one box."""
    return {
        "workerId": worker_id,
        "answerContent": {
            "annotatedResult": {
                "boundingBoxes": [{"label": label, "left": 11, "top": 21, "width": 29, "height": 39}],
                "inputImageProperties": {"width": 640, "height": 400},
            }
        },
        "timeSpentInSeconds": 12.5,
    }


NO_RETRIES = Config(retries={"total_max_attempts": 1})
"""One attempt, so a test sees the raw error (botocore's `max_attempts` counts retries, not attempts)."""

NO_CLIENT_CHECKS = Config(parameter_validation=False, retries={"total_max_attempts": 1})
"""Also no client-side validation, so a request botocore would refuse reaches the server."""


LOOPBACK_HEX = "0100007F"
TCP_LISTEN = "0A"


def listening_addresses(port: int) -> set[str]:
    """The local IPv4 addresses (hex, as in /proc/net/tcp) listening on `port`."""
    addresses = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, port_hex = local.split(":")
        if state == TCP_LISTEN and int(port_hex, 16) == port:
            addresses.add(address)
    return addresses
