"""`sagemaker-runtime` InvokeEndpoint: endpoints live in moto, answers come from the simulated detector.

Errors are the real service's: `ValidationError` (400) for an endpoint that does not exist or is
not InService, `ModelError` (424) carrying the container's own status (415 for a content type it
does not take, 400 for a body it cannot decode).
"""

import logging
from collections.abc import Callable
from typing import Any

from local_aws.arns import ACCOUNT_ID
from local_aws.detector import SimulatedDetector, UnsupportedContentTypeError
from local_aws.errors import ApiError

log = logging.getLogger(__name__)

EndpointLookup = Callable[[str], dict[str, Any] | None]
"""endpoint name -> its DescribeEndpoint answer, or None when there is no such endpoint."""


class EndpointInvoker:
    def __init__(self, region: str, describe_endpoint: EndpointLookup, detector: SimulatedDetector) -> None:
        self.region = region
        self.describe_endpoint = describe_endpoint
        self.detector = detector

    def invoke(
        self, endpoint_name: str, body: bytes, content_type: str, custom_attributes: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The detections for one image, and the production variant that answered if the endpoint has one."""
        endpoint = self.describe_endpoint(endpoint_name)
        if endpoint is None:
            raise ApiError("ValidationError", f"Endpoint {endpoint_name} of account {ACCOUNT_ID} not found.")
        if endpoint["EndpointStatus"] != "InService":
            status = endpoint["EndpointStatus"]
            message = f"Endpoint {endpoint_name} of account {ACCOUNT_ID} is {status}, not InService."
            raise ApiError("ValidationError", message)
        try:
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
