"""CreateEndpoint and DeleteEndpoint through moto, and how an endpoint comes up and goes, as a test
arms it.

moto makes every endpoint InService at once, deletes it at once, and lets a CreateEndpoint replace
an endpoint of the same name. A real one is Creating for minutes and may end Failed (no capacity
for the instance type, a model that does not start), is Deleting for a while after DeleteEndpoint
(from any state, Failed included), and its name cannot be created again until it is gone: a test
arms what the next endpoints created do, `{"status": "Failed", "failure_reason": "...",
"creating_seconds": 1, "deleting_seconds": 1}`.
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
    deleting_seconds: float
    remaining: int


class EndpointLifecycle:
    """`endpoint(name)` is moto's endpoint object (moto runs in this process)."""

    def __init__(self, region: str, moto_url: str, endpoint: Callable[[str], Any]) -> None:
        self._moto = moto_client("sagemaker", moto_url, region)
        self._endpoint = endpoint
        self._lock = threading.Lock()
        self._outcomes: deque[EndpointOutcome] = deque()
        self._deleting_seconds: dict[str, float] = {}  # by endpoint name, as armed when it was created
        self._timers: list[threading.Timer] = []

    @property
    def operations(self) -> dict[str, Operation]:
        return {"CreateEndpoint": self.create_endpoint, "DeleteEndpoint": self.delete_endpoint}

    def arm(self, body: Any) -> EndpointOutcome:
        """What the next `count` endpoints created do: `{"status", "failure_reason"?,
        "creating_seconds"?, "deleting_seconds"?, "count"?}`."""
        if not isinstance(body, dict) or body.get("status") not in END_STATUSES:
            raise ApiError("ValidationException", f"status must be one of {', '.join(END_STATUSES)}")
        seconds = {name: body.get(name, 0) for name in ("creating_seconds", "deleting_seconds")}
        for name, value in seconds.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ApiError("ValidationException", f"{name} must be a number >= 0, not {value!r}")
        count = body.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ApiError("ValidationException", f"count must be an integer >= 1, not {count!r}")
        reason = body.get("failure_reason")
        if body["status"] == "Failed" and not reason:
            reason = "Injected: the endpoint failed to come up"
        outcome = EndpointOutcome(
            body["status"], reason, seconds["creating_seconds"], seconds["deleting_seconds"], count
        )
        with self._lock:
            self._outcomes.append(outcome)
        return outcome

    def create_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params.get("EndpointName")
        existing = self._endpoint(name)
        if existing is not None:  # moto would replace it
            raise ApiError(
                "ValidationException", f'Cannot create already existing endpoint "{existing.arn}".'
            )
        answer = self._moto_call("create_endpoint", params)
        outcome = self._next()
        if outcome is not None:
            endpoint = self._endpoint(name)
            if outcome.deleting_seconds:
                with self._lock:
                    self._deleting_seconds[name] = outcome.deleting_seconds
            if outcome.creating_seconds:
                endpoint.endpoint_status = "Creating"
                self._later(outcome.creating_seconds, self._finish, endpoint, outcome)
            else:
                self._finish(endpoint, outcome)
        return {"EndpointArn": answer["EndpointArn"]}

    def delete_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        """Deleting for the endpoint's armed `deleting_seconds`, then gone; at once when none were."""
        name = params.get("EndpointName")
        endpoint = self._endpoint(name)
        with self._lock:
            seconds = self._deleting_seconds.pop(name, 0)
        if endpoint is None or not seconds:
            self._moto_call("delete_endpoint", params)
        else:
            endpoint.endpoint_status = "Deleting"
            self._later(seconds, self._gone, endpoint)
        return {}

    def reset(self) -> None:
        with self._lock:
            self._outcomes.clear()
            self._deleting_seconds.clear()
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

    def _moto_call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """moto's answer, or its refusal passed on as it gave it."""
        try:
            return getattr(self._moto, operation)(**params)
        except ClientError as error:
            details = error.response.get("Error", {})
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
            raise ApiError(
                details.get("Code", "ValidationException"), details.get("Message", ""), status
            ) from None

    def _later(self, seconds: float, action: Callable[..., None], *args: Any) -> None:
        timer = threading.Timer(seconds, action, args)
        timer.daemon = True
        with self._lock:
            self._timers.append(timer)
        timer.start()

    def _gone(self, endpoint: Any) -> None:
        # Unless a second DeleteEndpoint was quicker (and the name may be taken again since).
        if self._endpoint(endpoint.endpoint_name) is endpoint:
            self._moto.delete_endpoint(EndpointName=endpoint.endpoint_name)
            log.info("Endpoint %s: deleted", endpoint.endpoint_name)

    @staticmethod
    def _finish(endpoint: Any, outcome: EndpointOutcome) -> None:
        endpoint.endpoint_status = outcome.status
        endpoint.failure_reason = outcome.failure_reason
        log.info("Endpoint %s: %s (%s)", endpoint.endpoint_name, outcome.status, outcome.failure_reason)
