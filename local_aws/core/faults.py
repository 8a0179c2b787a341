"""Injected failures: the next N calls of an operation fail with a chosen error, for tests of retries."""

import threading
from dataclasses import dataclass
from typing import Any

from local_aws.core.errors import ApiError

DEFAULT_STATUS = {
    "ThrottlingException": 429,
    "ModelNotReadyException": 429,
    "ServiceQuotaExceededException": 402,
    "ResourceNotFoundException": 404,
    "ConflictException": 409,
    "ModelError": 424,
    "InternalServerException": 500,
    "InternalFailure": 500,
    "ServiceUnavailable": 503,
}


@dataclass
class Fault:
    operation: str
    error: str
    status: int
    message: str
    remaining: int


class FaultInjector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, Fault] = {}

    def add(self, body: Any) -> Fault:
        """Arm a fault from `{"operation", "error", "status"?, "message"?, "count"?}`."""
        if not isinstance(body, dict):
            raise ApiError("ValidationException", "the fault must be a JSON object")
        operation, error = body.get("operation"), body.get("error")
        if not isinstance(operation, str) or not isinstance(error, str) or not operation or not error:
            raise ApiError("ValidationException", "operation and error must be non-empty strings")
        status = body.get("status", DEFAULT_STATUS.get(error, 400))
        count = body.get("count", 1)
        for name, value in (("status", status), ("count", count)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ApiError("ValidationException", f"{name} must be a positive integer, not {value!r}")
        message = str(body.get("message", f"Injected {error} for {operation}"))
        fault = Fault(operation, error, status, message, count)
        with self._lock:
            self._faults[operation] = fault
        return fault

    def check(self, operation: str) -> None:
        """Raise the armed fault of `operation`, if any, and count it down."""
        with self._lock:
            fault = self._faults.get(operation)
            if fault is None:
                return
            fault.remaining -= 1
            if fault.remaining == 0:
                del self._faults[operation]
        raise ApiError(fault.error, fault.message, fault.status)

    def reset(self) -> None:
        with self._lock:
            self._faults.clear()
