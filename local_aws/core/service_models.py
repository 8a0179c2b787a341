"""botocore's service models, where the emulator reads the limits and patterns AWS enforces."""

from functools import cache

from botocore.loaders import Loader
from botocore.model import ServiceModel, Shape


@cache
def service_model(service: str) -> ServiceModel:
    return ServiceModel(Loader().load_service_model(service, "service-2"), service_name=service)


def input_member(service: str, operation: str, path: str) -> Shape:
    """The shape of the member at `path` of an operation's input, e.g. `HumanLoopConfig.TaskCount`;
    a list's items are `<list>.member`, with or without an index (`TaskKeywords.1.member`)."""
    shape = service_model(service).operation_model(operation).input_shape
    for name in path.split("."):
        if name.isdigit():
            continue
        shape = shape.member if name == "member" else shape.members[name]
    return shape
