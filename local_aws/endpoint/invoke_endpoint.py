"""`sagemaker-runtime` InvokeEndpoint: endpoints live in moto, answers come from the simulated detector.

Errors are the real service's: `ValidationError` (400) for a body over the real-time limit, or an
endpoint that does not exist or is not InService; `ModelError` (424) carrying the container's own
status (415 for a content type it does not take, 400 for a body it cannot decode).

The simulated model works on at most `capacity` requests at once, across all endpoints; the others
wait for a free slot, so a client sees the bound of a real endpoint: capacity / latency requests/s.
"""

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Request, Response

from local_aws.core import protocols
from local_aws.core.arns import ACCOUNT_ID
from local_aws.core.errors import ApiError
from local_aws.core.server import Route
from local_aws.core.service_models import input_member
from local_aws.endpoint.detector import SimulatedDetector, UnsupportedContentTypeError

log = logging.getLogger(__name__)

MAX_BODY_BYTES: int = input_member("sagemaker-runtime", "InvokeEndpoint", "Body").metadata["max"]
"""6 MB (6,291,456 bytes): the model's limit, and the one AWS documents for a real-time endpoint."""

EndpointLookup = Callable[[str], dict[str, Any] | None]
"""endpoint name -> its DescribeEndpoint answer, or None when there is no such endpoint."""


class EndpointInvoker:
    def __init__(
        self,
        region: str,
        describe_endpoint: EndpointLookup,
        detector: SimulatedDetector,
        capacity: int | None = None,
    ) -> None:
        """`capacity`: how many requests the model works on at once; None for no limit."""
        self.region = region
        self.describe_endpoint = describe_endpoint
        self.detector = detector
        self._model_slots = (
            contextlib.nullcontext() if capacity is None else threading.BoundedSemaphore(capacity)
        )

    def routes(self) -> list[Route]:
        rule = "/endpoints/<name>/invocations"
        return [Route(rule, "POST", "InvokeEndpoint", protocols.SAGEMAKER_RUNTIME, self._invoke_endpoint)]

    def _invoke_endpoint(self, request: Request, url: dict[str, Any]) -> Response:
        detections, variant = self.invoke(
            url["name"],
            request.get_data(),
            request.headers.get("Content-Type", ""),
            request.headers.get("X-Amzn-SageMaker-Custom-Attributes"),
        )
        headers = {"x-Amzn-Invoked-Production-Variant": variant} if variant else None
        return protocols.rest_json_response(detections, headers=headers)

    def invoke(
        self, endpoint_name: str, body: bytes, content_type: str, custom_attributes: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The detections for one image, and the production variant that answered if the endpoint has one."""
        if len(body) > MAX_BODY_BYTES:
            # AWS documents the limit but not the error past it (a 2018 report shows a bare 413 that
            # botocore cannot map to an error class); the emulator answers with the error the
            # sagemaker-runtime model defines for a request the service refuses: ValidationError, 400.
            raise ApiError(
                "ValidationError",
                f"The request body of {len(body)} bytes is over the {MAX_BODY_BYTES}-byte"
                f" ({MAX_BODY_BYTES // 2**20} MB) limit of InvokeEndpoint for a real-time endpoint.",
            )
        endpoint = self.describe_endpoint(endpoint_name)
        if endpoint is None:
            raise ApiError("ValidationError", f"Endpoint {endpoint_name} of account {ACCOUNT_ID} not found.")
        if endpoint["EndpointStatus"] != "InService":
            status = endpoint["EndpointStatus"]
            message = f"Endpoint {endpoint_name} of account {ACCOUNT_ID} is {status}, not InService."
            raise ApiError("ValidationError", message)
        try:
            with self._model_slots:
                detections = self.detector.detect(body, content_type, custom_attributes)
        except UnsupportedContentTypeError as error:
            raise self._model_error(endpoint_name, 415, str(error)) from None
        except ValueError as error:
            raise self._model_error(endpoint_name, 400, str(error)) from None
        log.info("InvokeEndpoint %s: %d detections", endpoint_name, len(detections))
        variants = endpoint.get("ProductionVariants") or [{}]
        return detections, variants[0].get("VariantName")

    def _model_error(self, endpoint_name: str, status: int, message: str) -> ApiError:
        log_group = f"/aws/sagemaker/Endpoints/{endpoint_name}"
        log.info("InvokeEndpoint %s: the model answered %d: %s", endpoint_name, status, message)
        return ApiError(
            "ModelError",
            f'Received client error ({status}) from primary with message "{message}". See the log group '
            f"{log_group} in account {ACCOUNT_ID} for more information.",
            424,
            OriginalStatusCode=status,
            OriginalMessage=message,
            LogStreamArn=f"arn:aws:logs:{self.region}:{ACCOUNT_ID}:log-group:{log_group}",
        )
