"""The emulator wired together: each service's state over one moto, the faults armed on them, and the
app that routes every request to its service (what `python -m local_aws` serves)."""

import logging
from dataclasses import dataclass
from typing import Any

from moto.sagemaker.models import sagemaker_backends
from werkzeug.wrappers import Request

from local_aws.a2i.control_plane import ControlPlane
from local_aws.a2i.human_loops import HumanLoops
from local_aws.a2i.ui_templates import TaskTemplateRenderer
from local_aws.actors import reviewer_api
from local_aws.core import protocols
from local_aws.core.arns import ACCOUNT_ID
from local_aws.core.faults import FaultInjector
from local_aws.core.moto_proxy import moto_client, reset_moto
from local_aws.core.server import EmulatorApp, Route
from local_aws.endpoint.detector import SimulatedDetector
from local_aws.endpoint.invoke_endpoint import EndpointInvoker
from local_aws.endpoint.lifecycle import EndpointLifecycle
from local_aws.transform.jobs import TransformJobs
from local_aws.transform.runner import JobRunner

log = logging.getLogger(__name__)

PRESIGNED_URL_SECONDS = 3600
TRANSFORM_CONNECTIONS = 64


@dataclass
class Emulator:
    region: str
    moto_url: str
    control_plane: ControlPlane
    human_loops: HumanLoops
    invoker: EndpointInvoker
    endpoints: EndpointLifecycle
    transform_jobs: TransformJobs
    faults: FaultInjector

    def reset(self) -> None:
        """Forget every flow definition, task UI, loop, fault and armed endpoint outcome, and reset
        moto too."""
        self.faults.reset()
        self.endpoints.reset()
        self.transform_jobs.reset()
        self.human_loops.reset()
        self.control_plane.reset()
        reset_moto(self.moto_url)

    def app(self) -> EmulatorApp:
        routes = [
            *self.human_loops.routes(),
            *self.control_plane.routes(),
            *self.invoker.routes(),
            *reviewer_api.routes(self.human_loops),
            *self._test_controls(),
        ]
        operations = {
            **self.control_plane.operations,
            **self.endpoints.operations,
            **self.transform_jobs.operations,
        }
        return EmulatorApp(routes, operations, self.moto_url, self.faults)

    def _test_controls(self) -> list[Route]:
        """`POST /_emulator/faults` (arm one), `DELETE /_emulator/faults` (end them all),
        `POST /_emulator/endpoint-outcomes`, `POST /_emulator/reset` and `GET /_emulator/health`."""

        def add_fault(request: Request, _: dict[str, Any]) -> dict[str, Any]:
            fault = self.faults.add(protocols.json_body(request))
            log.info(
                "Fault armed: the next %d %s calls fail with %s",
                fault.remaining,
                fault.operation,
                fault.error,
            )
            return {
                "operation": fault.operation,
                "error": fault.error,
                "status": fault.status,
                "count": fault.remaining,
            }

        def clear_faults(_: Request, __: dict[str, Any]) -> dict[str, Any]:
            self.faults.reset()
            log.info("Faults cleared")
            return {"cleared": True}

        def arm_endpoint_outcome(request: Request, _: dict[str, Any]) -> dict[str, Any]:
            outcome = self.endpoints.arm(protocols.json_body(request))
            log.info(
                "The next %d endpoints created are Creating for %gs, then %s",
                outcome.remaining,
                outcome.creating_seconds,
                outcome.status,
            )
            return {"status": outcome.status, "count": outcome.remaining}

        def reset(_: Request, __: dict[str, Any]) -> dict[str, Any]:
            self.reset()
            log.info("Reset: emulator state and moto cleared")
            return {"reset": True}

        def health(_: Request, __: dict[str, Any]) -> dict[str, Any]:
            return {"status": "ok", "region": self.region, "moto_url": self.moto_url}

        plain = protocols.PLAIN
        return [
            Route("/_emulator/faults", "POST", "add_fault", plain, add_fault),
            Route("/_emulator/faults", "DELETE", "clear_faults", plain, clear_faults),
            Route(
                "/_emulator/endpoint-outcomes", "POST", "arm_endpoint_outcome", plain, arm_endpoint_outcome
            ),
            Route("/_emulator/reset", "POST", "reset", plain, reset),
            Route("/_emulator/health", "GET", "health", plain, health),
        ]


def build_emulator(
    region: str,
    moto_url: str,
    public_url: str,
    flow_activation_seconds: float,
    detector_latency_seconds: float,
    endpoint_capacity: int | None,
) -> Emulator:
    s3 = moto_client("s3", moto_url, region)

    def presign(bucket: str, key: str) -> str:
        return s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=PRESIGNED_URL_SECONDS
        )

    def moto_endpoint(name: str) -> Any:
        # moto runs in this process: its endpoints are read from its backend directly rather than
        # over HTTP, which would cost every InvokeEndpoint more than the request itself.
        return sagemaker_backends[ACCOUNT_ID][region].endpoints.get(name)

    def describe_endpoint(name: str) -> dict[str, Any] | None:
        endpoint = moto_endpoint(name)
        return None if endpoint is None else endpoint.response_object

    def moto_model(name: str) -> Any:
        return sagemaker_backends[ACCOUNT_ID][region]._models.get(name)

    control_plane = ControlPlane(region, public_url, TaskTemplateRenderer(presign), flow_activation_seconds)
    detector = SimulatedDetector(detector_latency_seconds)
    faults = FaultInjector()
    # A transform job's threads share these clients: as many connections as the most threads a job runs.
    job_connections = max(endpoint_capacity or 0, TRANSFORM_CONNECTIONS)
    runner = JobRunner(
        moto_client("s3", moto_url, region, job_connections),
        moto_client("logs", moto_url, region),
        detector,
        endpoint_capacity,
        faults.check,
    )
    return Emulator(
        region=region,
        moto_url=moto_url,
        control_plane=control_plane,
        human_loops=HumanLoops(region, control_plane, s3),
        invoker=EndpointInvoker(region, describe_endpoint, detector, endpoint_capacity),
        endpoints=EndpointLifecycle(region, moto_url, moto_endpoint),
        transform_jobs=TransformJobs(region, moto_model, runner),
        faults=faults,
    )
