"""Everything the emulator holds, wired together: control plane, human loops, endpoints and faults."""

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from local_aws.a2i_runtime import HumanLoops
from local_aws.control_plane import ControlPlane
from local_aws.detector import SimulatedDetector
from local_aws.faults import FaultInjector
from local_aws.inference import EndpointInvoker
from local_aws.moto_proxy import reset_moto
from local_aws.ui_templates import TaskTemplateRenderer

PRESIGNED_URL_SECONDS = 3600


@dataclass
class Emulator:
    region: str
    moto_url: str
    control_plane: ControlPlane
    human_loops: HumanLoops
    invoker: EndpointInvoker
    faults: FaultInjector

    def reset(self) -> None:
        """Forget every flow definition, task UI, loop and fault, and reset moto too."""
        self.faults.reset()
        self.human_loops.reset()
        self.control_plane.reset()
        reset_moto(self.moto_url)


def build_emulator(
    region: str,
    moto_url: str,
    public_url: str,
    flow_activation_seconds: float,
    detector_latency_seconds: float,
) -> Emulator:
    s3 = moto_client("s3", moto_url, region)
    sagemaker = moto_client("sagemaker", moto_url, region)

    def presign(bucket: str, key: str) -> str:
        return s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=PRESIGNED_URL_SECONDS
        )

    def describe_endpoint(name: str) -> dict[str, Any] | None:
        try:
            return sagemaker.describe_endpoint(EndpointName=name)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ValidationException":
                return None
            raise

    control_plane = ControlPlane(region, public_url, TaskTemplateRenderer(presign), flow_activation_seconds)
    return Emulator(
        region=region,
        moto_url=moto_url,
        control_plane=control_plane,
        human_loops=HumanLoops(region, control_plane, s3),
        invoker=EndpointInvoker(region, describe_endpoint, SimulatedDetector(detector_latency_seconds)),
        faults=FaultInjector(),
    )


def moto_client(service: str, moto_url: str, region: str) -> Any:
    """A boto3 client of moto, with moto's dummy credentials and path-style S3 URLs."""
    return boto3.client(
        service,
        endpoint_url=moto_url,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
    )
