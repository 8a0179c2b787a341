"""Injected failures, for tests of retries and outages.

A fault makes calls of one operation fail with a chosen error: the next `count` calls, or every
call for `seconds` from the first one it fails (an outage), optionally after letting `after` calls
through first; `delay_seconds` slows each call down before it fails, or, with no error, just slows
it down. Faults armed for the same operation take their turns: one outage of 429s, then one of
500s.
"""

import threading
import time
from collections import deque
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
    error: str | None  # None: the calls are only slowed down
    status: int
    message: str
    remaining: int
    after: int = 0
    seconds: float | None = None
    delay_seconds: float = 0.0
    ends_at: float | None = None  # monotonic; set by the first call it hits when `seconds` is given

    def take(self, now: float) -> str | None:
        """Count one call: "pass" (let through), "apply" (this fault takes it), or None when the
        fault is over and the next one has its turn."""
        if self.after:
            self.after -= 1
            return "pass"
        if self.seconds is not None:
            if self.ends_at is None:
                self.ends_at = now + self.seconds
            return "apply" if now < self.ends_at else None
        if self.remaining == 0:
            return None
        self.remaining -= 1
        return "apply"


class FaultInjector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, deque[Fault]] = {}

    def add(self, body: Any) -> Fault:
        """Arm a fault from `{"operation", "error"?, "status"?, "message"?, "count"?, "after"?,
        "seconds"?, "delay_seconds"?}`; `error` may be left out only to slow calls down."""
        if not isinstance(body, dict):
            raise ApiError("ValidationException", "the fault must be a JSON object")
        operation, error = body.get("operation"), body.get("error")
        delay = body.get("delay_seconds", 0)
        seconds = body.get("seconds")
        for name, value in (("delay_seconds", delay), ("seconds", seconds)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or value < 0
            ):
                raise ApiError("ValidationException", f"{name} must be a number >= 0, not {value!r}")
        if not isinstance(operation, str) or not operation:
            raise ApiError("ValidationException", "operation must be a non-empty string")
        if not (isinstance(error, str) and error) and not (error is None and delay):
            raise ApiError("ValidationException", "error must be a non-empty string (or give delay_seconds)")
        status = body.get("status", DEFAULT_STATUS.get(error, 400))
        count, after = body.get("count", 1), body.get("after", 0)
        for name, value, least in (("status", status, 1), ("count", count, 1), ("after", after, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ApiError("ValidationException", f"{name} must be an integer >= {least}, not {value!r}")
        message = str(body.get("message", f"Injected {error or 'delay'} for {operation}"))
        fault = Fault(operation, error, status, message, count, after, seconds, delay)
        with self._lock:
            self._faults.setdefault(operation, deque()).append(fault)
        return fault

    def check(self, operation: str) -> None:
        """Apply the armed fault of `operation`, if any: wait its delay, raise its error."""
        with self._lock:
            queue = self._faults.get(operation, deque())
            now = time.monotonic()
            fault, action = None, None
            while queue and (action := queue[0].take(now)) is None:
                queue.popleft()
            if queue:
                fault = queue[0]
            else:
                self._faults.pop(operation, None)
        if fault is None or action != "apply":
            return
        if fault.delay_seconds:
            time.sleep(fault.delay_seconds)
        if fault.error is not None:
            raise ApiError(fault.error, fault.message, fault.status)

    def reset(self) -> None:
        with self._lock:
            self._faults.clear()
