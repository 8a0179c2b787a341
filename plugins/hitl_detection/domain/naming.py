"""Deterministic names for human loops, SageMaker resources and a run's output folder.

Names are derived from the run's key (and the image), never random, so a retried task finds the
loop or endpoint its first try created instead of starting a second one that bills again.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from typing import NamedTuple

HUMAN_LOOP_NAME_PATTERN = r"^[a-z0-9](-*[a-z0-9])*$"
SAGEMAKER_NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
MAX_NAME_LENGTH = 63
# What the model, endpoint config and endpoint a run deploys are named `<prefix>-...` after.
DEPLOYMENT_NAME_PREFIX = "hitl"
# 128 bits for loop names (one per image, many per run); 64 bits for one-per-run names.
_LOOP_DIGEST_CHARS = 32
_RUN_DIGEST_CHARS = 16
_RUN_PREFIX_CHARS = 12  # 48 bits: runs sharing a flow definition do not collide
_MAX_PREFIX_LENGTH = 20
_LONGEST_DEPLOYMENT_SUFFIX = len("-endpoint")  # also holds a transform job's "-jpeg-99"
_MAX_TRANSFORM_ATTEMPT = 99
_MAX_RUN_FOLDER_SLUG = 80


class DeploymentNames(NamedTuple):
    model: str
    endpoint_config: str
    endpoint: str


def run_key(deployment_id: str, dag_id: str, run_id: str) -> str:
    """`<run id>:<DAG id>:<deployment id>`: what a run's names and folder derive from.

    Airflow keeps a run id unique only within one DAG of one deployment (staging and prod both
    have `scheduled__<date>`), so the key holds all three. The run id comes first so that a name
    cut to fit still reads as the run; a DAG id and a deployment id hold no colon, so no two
    triples give one key.
    """
    for name, value in (("deployment_id", deployment_id), ("dag_id", dag_id)):
        _require_text(name, value)
        if ":" in value:
            raise ValueError(f"{name} {value!r} holds a colon")
    _require_text("run_id", run_id)
    return f"{run_id}:{dag_id}:{deployment_id}"


def human_loop_name_prefix(run_key: str) -> str:
    """`<12 hex digits of sha256(run key)>-`: what every loop name of the run starts with.

    A flow definition is shared by many runs; the prefix lets one ListHumanLoops sweep pick out
    a run's loops. Keep the hash stable: runs in flight find their loops by it.
    """
    _require_text("run_key", run_key)
    return f"{_digest('human-loop-run', run_key)[:_RUN_PREFIX_CHARS]}-"


def human_loop_name(run_key: str, image_key: str) -> str:
    """`<run prefix><readable image name>-<32 hex digits of sha256(run key, image key)>`, at most
    63 characters.

    The readable part is cut to fit, never the digest.
    """
    _require_text("image_key", image_key)
    prefix = human_loop_name_prefix(run_key)
    digest = _digest("human-loop", run_key, image_key)[:_LOOP_DIGEST_CHARS]
    file_name = image_key.rsplit("/", 1)[-1]
    stem = file_name.rsplit(".", 1)[0] if "." in file_name[1:] else file_name
    slug = _slug(stem, MAX_NAME_LENGTH - len(prefix) - 1 - len(digest))
    return f"{prefix}{slug}-{digest}" if slug else f"{prefix}{digest}"


def deployment_names(run_key: str, prefix: str = DEPLOYMENT_NAME_PREFIX) -> DeploymentNames:
    """Model, endpoint config and endpoint names for a run, all `<prefix>-...`.

    The prefix lets an IAM policy restrict the run's role to resources named `hitl-*`.
    """
    base = _deployment_base(run_key, prefix)
    return DeploymentNames(
        model=f"{base}-model", endpoint_config=f"{base}-config", endpoint=f"{base}-endpoint"
    )


def transform_job_name(run_id: str, content: str, attempt: int, prefix: str = "hitl") -> str:
    """`<prefix>-...-<content>-<attempt>`: the run's Batch Transform job for one content type.

    SageMaker never frees a transform job's name, so a job that cannot be used again (stopped, or
    failed as a whole) is followed by the next attempt's, never by one of the same name.
    """
    if not re.fullmatch(r"[a-z]{1,4}", content):
        raise ValueError(f"content {content!r} is not a short content name such as jpeg or png")
    if isinstance(attempt, bool) or not isinstance(attempt, int) or not 0 < attempt <= _MAX_TRANSFORM_ATTEMPT:
        raise ValueError(f"attempt {attempt!r} is not a number from 1 to {_MAX_TRANSFORM_ATTEMPT}")
    return f"{_deployment_base(run_id, prefix)}-{content}-{attempt}"


def _deployment_base(run_id: str, prefix: str) -> str:
    _require_text("run_id", run_id)
    if not isinstance(prefix, str) or not re.fullmatch(SAGEMAKER_NAME_PATTERN, prefix):
        raise ValueError(
            f"prefix {prefix!r} is not a SageMaker name; expected letters, digits and inner hyphens"
        )
    if len(prefix) > _MAX_PREFIX_LENGTH:
        raise ValueError(f"prefix {prefix!r} has {len(prefix)} characters, above {_MAX_PREFIX_LENGTH}")
    digest = _digest("deployment", run_id)[:_RUN_DIGEST_CHARS]
    room = MAX_NAME_LENGTH - _LONGEST_DEPLOYMENT_SUFFIX - len(prefix) - len(digest) - 2
    slug = _slug(run_id, room)
    return "-".join(part for part in (prefix, slug, digest) if part)


def run_folder(run_key: str) -> str:
    """An S3 path segment unique to the run: its key made safe (it reads as the run id, the DAG id
    and the deployment id), then 16 hex digits of its hash."""
    _require_text("run_key", run_key)
    ascii_key = unicodedata.normalize("NFKD", run_key).encode("ascii", "ignore").decode("ascii")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_key).strip("._-")[:_MAX_RUN_FOLDER_SLUG].rstrip("._-")
    digest = _digest("run-folder", run_key)[:_RUN_DIGEST_CHARS]
    return f"{safe}-{digest}" if safe else digest


def _digest(*parts: str) -> str:
    # A JSON array joins the parts unambiguously: ("a-b", "c") and ("a", "b-c") hash differently.
    return hashlib.sha256(json.dumps(parts).encode("ascii")).hexdigest()


def _slug(text: str, max_length: int) -> str:
    """Lowercase ASCII letters and digits joined by single hyphens, cut to `max_length`."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")
    return slug[: max(max_length, 0)].rstrip("-")


def _require_text(name: str, value: str) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} {value!r} is not a non-empty string")
