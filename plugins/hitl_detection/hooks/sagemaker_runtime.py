"""Invoking a SageMaker real-time endpoint (`sagemaker-runtime`), which the provider has no hook for."""

from __future__ import annotations

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from botocore.exceptions import ClientError


class EndpointModelError(RuntimeError):
    """The model container answered with an error for this input: the input's fault, not the run's."""


class SageMakerRuntimeHook(AwsBaseHook):
    """Sends one image to an endpoint as stored, with the content type of its extension."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs["client_type"] = "sagemaker-runtime"
        super().__init__(*args, **kwargs)

    def invoke_endpoint(self, endpoint_name: str, body: bytes, content_type: str) -> bytes:
        try:
            response = self.conn.invoke_endpoint(
                EndpointName=endpoint_name, Body=body, ContentType=content_type, Accept="application/json"
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ModelError":
                original = error.response.get("OriginalStatusCode")
                message = error.response["Error"].get("Message", "")
                raise EndpointModelError(f"the model answered {original or 'an error'}: {message}") from error
            raise
        return response["Body"].read()
