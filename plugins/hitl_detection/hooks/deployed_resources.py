"""The models, endpoint configs and endpoints runs deploy, as the cost guard finds them: listed by
the name prefix of every run's resources (what the IAM policy scopes the project to), with tags."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hitl_detection.domain.cost_guard import TaggedResource


def resources_named(client: Any, prefix: str) -> Iterator[TaggedResource]:
    """Every endpoint, endpoint config and model named `<prefix>-...`, with its tags, through a
    boto3 SageMaker client."""
    name_start = f"{prefix}-"
    listings = (  # kind, paginator, the field naming each item in a page: <field>s
        ("endpoint", client.get_paginator("list_endpoints"), "Endpoint"),
        ("endpoint config", client.get_paginator("list_endpoint_configs"), "EndpointConfig"),
        ("model", client.get_paginator("list_models"), "Model"),
    )
    for kind, paginator, field in listings:
        for page in paginator.paginate(NameContains=name_start):
            for item in page[f"{field}s"]:
                name = item[f"{field}Name"]
                if not name.startswith(name_start):
                    continue
                yield TaggedResource(kind, name, _tags(client, item[f"{field}Arn"]))


def _tags(client: Any, arn: str) -> tuple[dict[str, str], ...]:
    pages = client.get_paginator("list_tags").paginate(ResourceArn=arn)
    return tuple(tag for page in pages for tag in page.get("Tags", ()))
