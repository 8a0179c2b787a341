"""The reviewer API's request bodies: a worker's bounding-box answer, or a reviewer failing a loop.

This API stands in for the A2I worker portal, which has no public API: the scripted reviewer and
the demo answer loops through it.
"""

from typing import Any

from local_aws.errors import ApiError

FAILURE_CODES = ("ValidationError", "Expired", "InternalError")


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
