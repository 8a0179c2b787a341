"""The transform jobs, models, endpoint configs and endpoints runs start and deploy, as the cost
guard finds them: listed by the name prefix of every run's resources (what the IAM policy scopes the
project to), with tags."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hitl_detection.domain.cost_guard import TRANSFORM_JOB, TaggedResource


def resources_named(client: Any, prefix: str) -> Iterator[TaggedResource]:
    """Every running transform job, endpoint, endpoint config and model named `<prefix>-...`, with
    its tags, through a boto3 SageMaker client."""
    name_start = f"{prefix}-"
    # kind, paginator, the key of a page's items, the prefix of their Name and Arn fields, filters
    # beside the name: only a running transform job bills (an ended one stays listed for good).
    listings = (
        (
            TRANSFORM_JOB,
            client.get_paginator("list_transform_jobs"),
            "TransformJobSummaries",
            "TransformJob",
            {"StatusEquals": "InProgress"},
        ),
        ("endpoint", client.get_paginator("list_endpoints"), "Endpoints", "Endpoint", {}),
        (
            "endpoint config",
            client.get_paginator("list_endpoint_configs"),
            "EndpointConfigs",
            "EndpointConfig",
            {},
        ),
        ("model", client.get_paginator("list_models"), "Models", "Model", {}),
    )
    for kind, paginator, items, field, filters in listings:
        for page in paginator.paginate(NameContains=name_start, **filters):
            for item in page[items]:
                name = item[f"{field}Name"]
                if not name.startswith(name_start):
                    continue
                yield TaggedResource(kind, name, _tags(client, item[f"{field}Arn"]))


def _tags(client: Any, arn: str) -> tuple[dict[str, str], ...]:
    pages = client.get_paginator("list_tags").paginate(ResourceArn=arn)
    return tuple(tag for page in pages for tag in page.get("Tags", ()))
