"""The emulator's HTTP front: routes each request to its operation and answers in that API's protocol.

- `POST /` with `X-Amz-Target: SageMaker.<Op>`: the SageMaker operations the emulator answers itself,
  every other target proxied to moto, and so is a request an operation leaves to moto (`LeftToMoto`);
- any other request: the `Route` whose rule matches it; each service declares its own routes.
"""

import logging
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from local_aws.core import protocols
from local_aws.core.errors import ApiError
from local_aws.core.faults import FaultInjector
from local_aws.core.moto_proxy import forward

log = logging.getLogger(__name__)

SAGEMAKER_TARGET_PREFIX = "SageMaker."
LOOPBACK = "127.0.0.1"
ALL_INTERFACES = "0.0.0.0"
_SHUTDOWN_POLL_SECONDS = 0.1
_SAGEMAKER_TARGETS = "SageMaker targets"

Handler = Callable[[Request, dict[str, Any]], Any]
"""(request, arguments of the URL rule) -> a Response, or the payload its protocol answers with."""

Operation = Callable[[dict[str, Any]], Any]
"""A SageMaker JSON 1.1 operation: its parameters -> its answer."""


class LeftToMoto(Exception):
    """An emulated operation's request about what moto keeps (ListTags of a model): moto answers it."""


@dataclass(frozen=True)
class Route:
    """A URL rule and what answers it. `operation` names the call in logs and is what a test arms a
    fault on, so an AWS call's route carries the AWS operation name (`StartHumanLoop`)."""

    rule: str
    method: str
    operation: str
    protocol: protocols.Protocol
    handler: Handler


class EmulatorApp:
    """The WSGI application: `routes` by URL, SageMaker targets by name, moto for the targets it lacks."""

    def __init__(
        self,
        routes: Iterable[Route],
        sagemaker_operations: Mapping[str, Operation],
        moto_url: str,
        faults: FaultInjector,
    ) -> None:
        self._rules = Map(
            [
                Rule("/", methods=["POST"], endpoint=_SAGEMAKER_TARGETS),
                *(Rule(route.rule, methods=[route.method], endpoint=route) for route in routes),
            ]
        )
        self._sagemaker_operations = sagemaker_operations
        self._moto_url = moto_url
        self._faults = faults

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Any:
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:
        try:
            route, args = self._rules.bind_to_environ(request.environ).match()
        except HTTPException as error:
            message = f"{request.method} {request.path}: {error.name}"
            return protocols.plain_error(ApiError("UnknownOperation", message, error.code or 404))
        if route is _SAGEMAKER_TARGETS:
            return self._sagemaker(request)
        return self._answer(request, route.operation, route.protocol, lambda: route.handler(request, args))

    def _sagemaker(self, request: Request) -> Response:
        target = request.headers.get("X-Amz-Target", "")
        if not target.startswith(SAGEMAKER_TARGET_PREFIX):
            error = ApiError(
                "UnknownOperationException", f"X-Amz-Target {target!r} is not a SageMaker operation"
            )
            return protocols.json11_error(error)
        operation = target.removeprefix(SAGEMAKER_TARGET_PREFIX)
        handler = self._sagemaker_operations.get(operation)

        def call() -> Any:
            if handler is not None:
                try:
                    return handler(protocols.json_object(request))
                except LeftToMoto:
                    pass
            return forward(self._moto_url, request)

        return self._answer(request, operation, protocols.JSON11, call)

    def _answer(
        self, request: Request, operation: str, protocol: protocols.Protocol, call: Callable[[], Any]
    ) -> Response:
        """Run `call` unless a fault is armed for the AWS `operation`, answering in its protocol."""
        try:
            if protocol is not protocols.PLAIN:
                self._faults.check(operation)
            result = call()
        except ApiError as error:
            log.info("%s failed: %s", operation, error)
            return protocol.error(error)
        except Exception:
            log.exception("%s %s crashed", request.method, request.path)
            return protocol.error(ApiError(protocol.internal_error, "The emulator failed; see its log.", 500))
        return result if isinstance(result, Response) else protocol.ok(result)


def local_address(bind_host: str) -> str:
    """Where a process on this machine reaches a server bound to `bind_host` (loopback for 0.0.0.0)."""
    return LOOPBACK if bind_host == ALL_INTERFACES else bind_host


class EmulatorServer:
    """A threaded werkzeug server (on 127.0.0.1 by default), bound before the app exists so the app can
    know its URL; `url` is where this machine reaches it."""

    def __init__(self, port: int, host: str = LOOPBACK) -> None:
        self.host = host
        self._listener = socket.create_server((host, port))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://{local_address(host)}:{self.port}"
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self, app: EmulatorApp) -> None:
        self._server = make_server(self.host, self.port, app, threaded=True, fd=self._listener.fileno())
        self._listener.close()
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(_SHUTDOWN_POLL_SECONDS,), name="emulator", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._thread.join()
