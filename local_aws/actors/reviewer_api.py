"""The reviewer API: list the loops waiting for a worker, answer one as a worker, or fail it.

This API stands in for the A2I worker portal, which has no public API: the scripted reviewer and
the demo answer loops through it. It speaks plain JSON, and faults are never injected into it.
"""

from typing import Any

from werkzeug.wrappers import Request

from local_aws.a2i.human_loops import HumanLoops
from local_aws.core import protocols
from local_aws.core.errors import ApiError
from local_aws.core.server import Route

FAILURE_CODES = ("ValidationError", "Expired", "InternalError")


def routes(loops: HumanLoops) -> list[Route]:
    """`GET /reviewer/loops?status=pending|all`, `POST /reviewer/loops/<name>/answers` and `.../fail`."""

    def list_loops(request: Request, _: dict[str, Any]) -> dict[str, Any]:
        status = request.args.get("status", "pending")
        if status not in ("pending", "all"):
            raise _bad(f"status {status!r} is neither 'pending' nor 'all'")
        return {"loops": loops.reviewer_loops(pending_only=status == "pending")}

    def answer(request: Request, url: dict[str, Any]) -> dict[str, Any]:
        worker_id, answer_content, time_spent = parse_answer(protocols.json_body(request))
        return loops.record_answer(url["name"], worker_id, answer_content, time_spent)

    def fail(request: Request, url: dict[str, Any]) -> dict[str, Any]:
        return loops.fail(url["name"], *parse_failure(protocols.json_body(request)))

    plain = protocols.PLAIN
    return [
        Route("/reviewer/loops", "GET", "reviewer_loops", plain, list_loops),
        Route("/reviewer/loops/<name>/answers", "POST", "reviewer_answer", plain, answer),
        Route("/reviewer/loops/<name>/fail", "POST", "reviewer_fail", plain, fail),
    ]


def parse_answer(body: Any) -> tuple[str, dict[str, Any], float | None]:
    """(workerId, answerContent, timeSpentInSeconds) from `{"workerId", "answerContent", ...}`."""
    body = _object(body, "the request body")
    worker_id = body.get("workerId")
    if not isinstance(worker_id, str) or not worker_id:
        raise _bad(f"workerId must be a non-empty string, not {worker_id!r}")
    answer = _object(body.get("answerContent"), "answerContent")
    result = _object(answer.get("annotatedResult"), "answerContent.annotatedResult")
    boxes = result.get("boundingBoxes")
    if not isinstance(boxes, list):
        raise _bad(f"answerContent.annotatedResult.boundingBoxes must be a list, not {boxes!r}")
    for index, box in enumerate(boxes):
        where = f"answerContent.annotatedResult.boundingBoxes[{index}]"
        box = _object(box, where)
        if not isinstance(box.get("label"), str) or not box["label"]:
            raise _bad(f"{where}.label must be a non-empty string, not {box.get('label')!r}")
        for name in ("left", "top", "width", "height"):
            _number(box.get(name), f"{where}.{name}", minimum=0)
    image = _object(result.get("inputImageProperties"), "answerContent.annotatedResult.inputImageProperties")
    for name in ("width", "height"):
        _number(image.get(name), f"answerContent.annotatedResult.inputImageProperties.{name}", minimum=1)
    time_spent = body.get("timeSpentInSeconds")
    if time_spent is not None:
        _number(time_spent, "timeSpentInSeconds", minimum=0)
    return worker_id, answer, time_spent


def parse_failure(body: Any) -> tuple[str, str]:
    """(FailureCode, FailureReason) from `{"FailureCode", "FailureReason"}`."""
    body = _object(body, "the request body")
    code = body.get("FailureCode")
    if code not in FAILURE_CODES:
        raise _bad(f"FailureCode {code!r} is not one of {', '.join(FAILURE_CODES)}")
    reason = body.get("FailureReason", f"Failed by the reviewer API ({code})")
    if not isinstance(reason, str):
        raise _bad(f"FailureReason must be a string, not {reason!r}")
    return code, reason


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(f"{where} must be a JSON object, not {value!r}")
    return value


def _number(value: Any, where: str, minimum: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise _bad(f"{where} must be a number >= {minimum}, not {value!r}")


def _bad(message: str) -> ApiError:
    return ApiError("ValidationException", message)
