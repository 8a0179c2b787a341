"""Wire shapes of answers and errors: SageMaker's JSON 1.1, rest-json (A2I runtime, sagemaker-runtime)
and the plain JSON of the emulator's own reviewer and control API."""

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from local_aws.core.errors import ApiError


def json_body(request: Request) -> Any:
    """The parsed body, None when there is none."""
    data = request.get_data()
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        raise ApiError("SerializationException", "The request body is not valid JSON.") from None


def json_object(request: Request) -> dict[str, Any]:
    """The parameters of an AWS operation: a JSON object, `{}` when the body is empty."""
    body = json_body(request)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ApiError("SerializationException", "The request body is not a JSON object.")
    return body


def json11_response(payload: dict[str, Any]) -> Response:
    return _aws_response(payload, 200, "application/x-amz-json-1.1")


def json11_error(error: ApiError) -> Response:
    """`{"__type": Code, "message": ...}`: what botocore's JSON parser reads Error.Code from."""
    body = {"__type": error.code, "message": error.message, **error.fields}
    return _aws_response(body, error.status, "application/x-amz-json-1.1")


def rest_json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return _aws_response(payload, status, "application/json", headers)


def rest_json_error(error: ApiError) -> Response:
    """`x-amzn-ErrorType: Code` and `{"message": ..., <modeled members>}`, as rest-json services answer."""
    body = {"message": error.message, **error.fields}
    return _aws_response(body, error.status, "application/json", {"x-amzn-ErrorType": error.code})


def plain_response(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload), status, content_type="application/json")


def plain_error(error: ApiError) -> Response:
    return plain_response({"error": error.code, "message": error.message}, error.status)


def _aws_response(
    payload: Any, status: int, content_type: str, headers: dict[str, str] | None = None
) -> Response:
    response = Response(json.dumps(payload), status, content_type=content_type, headers=headers)
    response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
    return response


@dataclass(frozen=True)
class Protocol:
    """How one API answers: its success and error shapes, and its code for an unexpected failure."""

    ok: Callable[[Any], Response]
    error: Callable[[ApiError], Response]
    internal_error: str


JSON11 = Protocol(json11_response, json11_error, "InternalFailure")
A2I_RUNTIME = Protocol(rest_json_response, rest_json_error, "InternalServerException")
SAGEMAKER_RUNTIME = Protocol(rest_json_response, rest_json_error, "InternalFailure")
PLAIN = Protocol(plain_response, plain_error, "InternalError")
