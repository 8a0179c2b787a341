"""CreateEndpoint through moto, and how a new endpoint comes up, as a test arms it.

moto makes every endpoint InService at once. A real one is Creating for minutes and may end
Failed (no capacity for the instance type, a model that does not start): a test arms what the
next endpoints created do, `{"status": "Failed", "failure_reason": "...", "creating_seconds": 1}`.
"""

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from local_aws.core.errors import ApiError
from local_aws.core.moto_proxy import moto_client
from local_aws.core.server import Operation

log = logging.getLogger(__name__)

END_STATUSES = ("InService", "Failed")


@dataclass
class EndpointOutcome:
    status: str
    failure_reason: str | None
    creating_seconds: float
    remaining: int


class EndpointLifecycle:
    """`endpoint(name)` is moto's endpoint object (moto runs in this process)."""

    def __init__(self, region: str, moto_url: str, endpoint: Callable[[str], Any]) -> None:
        self._moto = moto_client("sagemaker", moto_url, region)
        self._endpoint = endpoint
        self._lock = threading.Lock()
        self._outcomes: deque[EndpointOutcome] = deque()
        self._timers: list[threading.Timer] = []

    @property
    def operations(self) -> dict[str, Operation]:
        return {"CreateEndpoint": self.create_endpoint}

    def arm(self, body: Any) -> EndpointOutcome:
        """What the next `count` endpoints created do: `{"status", "failure_reason"?,
        "creating_seconds"?, "count"?}`."""
        if not isinstance(body, dict) or body.get("status") not in END_STATUSES:
            raise ApiError("ValidationException", f"status must be one of {', '.join(END_STATUSES)}")
        seconds, count = body.get("creating_seconds", 0), body.get("count", 1)
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise ApiError("ValidationException", f"creating_seconds must be a number >= 0, not {seconds!r}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ApiError("ValidationException", f"count must be an integer >= 1, not {count!r}")
        reason = body.get("failure_reason")
        if body["status"] == "Failed" and not reason:
            reason = "Injected: the endpoint failed to come up"
        outcome = EndpointOutcome(body["status"], reason, seconds, count)
        with self._lock:
            self._outcomes.append(outcome)
        return outcome

    def create_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            answer = self._moto.create_endpoint(**params)
        except ClientError as error:  # moto's own answer, passed on as it gave it
            details = error.response.get("Error", {})
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
            raise ApiError(
                details.get("Code", "ValidationException"), details.get("Message", ""), status
            ) from None
        outcome = self._next()
        if outcome is not None:
            name = params["EndpointName"]
            endpoint = self._endpoint(name)
            if outcome.creating_seconds:
                endpoint.endpoint_status = "Creating"
                timer = threading.Timer(outcome.creating_seconds, self._finish, (endpoint, outcome))
                timer.daemon = True
                with self._lock:
                    self._timers.append(timer)
                timer.start()
            else:
                self._finish(endpoint, outcome)
        return {"EndpointArn": answer["EndpointArn"]}

    def reset(self) -> None:
        with self._lock:
            self._outcomes.clear()
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()

    def _next(self) -> EndpointOutcome | None:
        with self._lock:
            if not self._outcomes:
                return None
            outcome = self._outcomes[0]
            outcome.remaining -= 1
            if outcome.remaining == 0:
                self._outcomes.popleft()
            return outcome

    @staticmethod
    def _finish(endpoint: Any, outcome: EndpointOutcome) -> None:
        endpoint.endpoint_status = outcome.status
        endpoint.failure_reason = outcome.failure_reason
        log.info("Endpoint %s: %s (%s)", endpoint.endpoint_name, outcome.status, outcome.failure_reason)
