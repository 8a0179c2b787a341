"""The emulator's HTTP front: routes each request to its operation and answers in that API's protocol.

- `POST /` with `X-Amz-Target: SageMaker.<Op>`: the A2I control plane, every other target proxied to moto;
- `/human-loops...`: the `sagemaker-a2i-runtime` API; `/endpoints/{name}/invocations`: InvokeEndpoint;
- `/reviewer/...`: the reviewer API; `/_emulator/...`: faults, reset and health.
"""

import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from local_aws import protocols
from local_aws.emulator import Emulator
from local_aws.errors import ApiError
from local_aws.moto_proxy import forward
from local_aws.reviewer import parse_answer, parse_failure

log = logging.getLogger(__name__)

SAGEMAKER_TARGET_PREFIX = "SageMaker."
LOOPBACK = "127.0.0.1"
ALL_INTERFACES = "0.0.0.0"
_SHUTDOWN_POLL_SECONDS = 0.1

_RULES = Map(
    [
        Rule("/", methods=["POST"], endpoint="sagemaker"),
        Rule("/human-loops", methods=["POST"], endpoint="StartHumanLoop"),
        Rule("/human-loops", methods=["GET"], endpoint="ListHumanLoops"),
        Rule("/human-loops/stop", methods=["POST"], endpoint="StopHumanLoop"),
        Rule("/human-loops/<name>", methods=["GET"], endpoint="DescribeHumanLoop"),
        Rule("/human-loops/<name>", methods=["DELETE"], endpoint="DeleteHumanLoop"),
        Rule("/endpoints/<name>/invocations", methods=["POST"], endpoint="InvokeEndpoint"),
        Rule("/human-task-uis/<name>/template", methods=["GET"], endpoint="task_ui_template"),
        Rule("/reviewer/loops", methods=["GET"], endpoint="reviewer_loops"),
        Rule("/reviewer/loops/<name>/answers", methods=["POST"], endpoint="reviewer_answer"),
        Rule("/reviewer/loops/<name>/fail", methods=["POST"], endpoint="reviewer_fail"),
        Rule("/_emulator/faults", methods=["POST"], endpoint="add_fault"),
        Rule("/_emulator/reset", methods=["POST"], endpoint="reset"),
        Rule("/_emulator/health", methods=["GET"], endpoint="health"),
    ]
)


Handler = Callable[[Request, dict[str, Any]], Any]


class EmulatorApp:
    """The WSGI application over one Emulator."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        loops = emulator.human_loops
        a2i, plain = protocols.A2I_RUNTIME, protocols.PLAIN
        self._routes: dict[str, tuple[protocols.Protocol, Handler]] = {
            "StartHumanLoop": (a2i, lambda request, _: loops.start(protocols.json_object(request))),
            "ListHumanLoops": (a2i, lambda request, _: loops.list_loops(request.args)),
            "StopHumanLoop": (a2i, lambda request, _: loops.stop(protocols.json_object(request))),
            "DescribeHumanLoop": (a2i, lambda _, args: loops.describe(args["name"])),
            "DeleteHumanLoop": (a2i, lambda _, args: loops.delete(args["name"])),
            "InvokeEndpoint": (protocols.SAGEMAKER_RUNTIME, self._invoke_endpoint),
            "task_ui_template": (plain, self._task_ui_template),
            "reviewer_loops": (plain, self._reviewer_loops),
            "reviewer_answer": (plain, self._reviewer_answer),
            "reviewer_fail": (plain, self._reviewer_fail),
            "add_fault": (plain, self._add_fault),
            "reset": (plain, self._reset),
            "health": (plain, self._health),
        }

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Any:
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:
        try:
            endpoint, args = _RULES.bind_to_environ(request.environ).match()
        except HTTPException as error:
            message = f"{request.method} {request.path}: {error.name}"
            return protocols.plain_error(ApiError("UnknownOperation", message, error.code or 404))
        if endpoint == "sagemaker":
            return self._sagemaker(request)
        protocol, handler = self._routes[endpoint]
        return self._answer(request, endpoint, protocol, lambda: handler(request, args))

    def _sagemaker(self, request: Request) -> Response:
        target = request.headers.get("X-Amz-Target", "")
        if not target.startswith(SAGEMAKER_TARGET_PREFIX):
            error = ApiError(
                "UnknownOperationException", f"X-Amz-Target {target!r} is not a SageMaker operation"
            )
            return protocols.json11_error(error)
        operation = target.removeprefix(SAGEMAKER_TARGET_PREFIX)
        handler = self.emulator.control_plane.operations.get(operation)

        def call() -> Any:
            if handler is None:
                return forward(self.emulator.moto_url, request)
            return handler(protocols.json_object(request))

        return self._answer(request, operation, protocols.JSON11, call)

    def _answer(
        self, request: Request, operation: str, protocol: protocols.Protocol, call: Callable[[], Any]
    ) -> Response:
        """Run `call` unless a fault is armed for the AWS `operation`, answering in its protocol."""
        try:
            if protocol is not protocols.PLAIN:
                self.emulator.faults.check(operation)
            result = call()
        except ApiError as error:
            log.info("%s failed: %s", operation, error)
            return protocol.error(error)
        except Exception:
            log.exception("%s %s crashed", request.method, request.path)
            return protocol.error(ApiError(protocol.internal_error, "The emulator failed; see its log.", 500))
        return result if isinstance(result, Response) else protocol.ok(result)

    # sagemaker-runtime

    def _invoke_endpoint(self, request: Request, args: dict[str, Any]) -> Response:
        detections, variant = self.emulator.invoker.invoke(
            args["name"],
            request.get_data(),
            request.headers.get("Content-Type", ""),
            request.headers.get("X-Amzn-SageMaker-Custom-Attributes"),
        )
        headers = {"x-Amzn-Invoked-Production-Variant": variant} if variant else None
        return protocols.rest_json_response(detections, headers=headers)

    # Worker task templates (DescribeHumanTaskUi's UiTemplate.Url)

    def _task_ui_template(self, _: Request, args: dict[str, Any]) -> Response:
        content = self.emulator.control_plane.template_content(args["name"])
        if content is None:
            raise ApiError("ResourceNotFound", f"HumanTaskUi {args['name']} does not exist.", 404)
        return Response(content, content_type="text/html; charset=utf-8")

    # Reviewer API

    def _reviewer_loops(self, request: Request, _: dict[str, Any]) -> dict[str, Any]:
        status = request.args.get("status", "pending")
        if status not in ("pending", "all"):
            raise ApiError("ValidationException", f"status {status!r} is neither 'pending' nor 'all'")
        return {"loops": self.emulator.human_loops.reviewer_loops(pending_only=status == "pending")}

    def _reviewer_answer(self, request: Request, args: dict[str, Any]) -> dict[str, Any]:
        worker_id, answer_content, time_spent = parse_answer(protocols.json_body(request))
        return self.emulator.human_loops.record_answer(args["name"], worker_id, answer_content, time_spent)

    def _reviewer_fail(self, request: Request, args: dict[str, Any]) -> dict[str, Any]:
        code, reason = parse_failure(protocols.json_body(request))
        return self.emulator.human_loops.fail(args["name"], code, reason)

    # Test controls

    def _add_fault(self, request: Request, _: dict[str, Any]) -> dict[str, Any]:
        fault = self.emulator.faults.add(protocols.json_body(request))
        log.info(
            "Fault armed: the next %d %s calls fail with %s", fault.remaining, fault.operation, fault.error
        )
        return {
            "operation": fault.operation,
            "error": fault.error,
            "status": fault.status,
            "count": fault.remaining,
        }

    def _reset(self, _: Request, __: dict[str, Any]) -> dict[str, Any]:
        self.emulator.reset()
        log.info("Reset: emulator state and moto cleared")
        return {"reset": True}

    def _health(self, _: Request, __: dict[str, Any]) -> dict[str, Any]:
        return {"status": "ok", "region": self.emulator.region, "moto_url": self.emulator.moto_url}


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
