"""Where a person looks at an AWS resource: its page in the AWS console or, when the connection
sends the service somewhere else (the local stand-in), a page of that stand-in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from airflow.providers.amazon.aws.links.base_aws import BaseAwsLink

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook


def console_url(
    partition: str, region: str, path: str, *, query: Mapping[str, str] | None = None, fragment: str = ""
) -> str:
    """`https://console.<the partition's domain>/<path>?region=<region>&<query>[#<fragment>]`."""
    domain = BaseAwsLink.get_aws_domain(partition)
    if domain is None:
        raise ValueError(f"no AWS console is known for partition {partition!r}")
    url = f"https://console.{domain}/{path}?{urlencode({'region': region, **(query or {})})}"
    return f"{url}#{fragment}" if fragment else url


def stand_in_url(hook: AwsBaseHook, service: str | None = None) -> str | None:
    """The URL the connection sends `service` to instead of AWS, without a trailing '/'; None when
    it goes to AWS. Without `service`: the connection's own `endpoint_url`."""
    config = hook.conn_config
    url = config.get_service_endpoint_url(service) if service else config.endpoint_url
    return url.rstrip("/") if url else None
