"""Talking to moto: a raw pass-through for the SageMaker calls moto answers itself (models,
endpoints...), its reset, and boto3 clients of it."""

import http.client
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from werkzeug.wrappers import Request, Response

# Headers that belong to one connection, or that the receiving side sets again.
_NOT_FORWARDED = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "server", "date"}
_TIMEOUT_SECONDS = 60


def forward(moto_url: str, request: Request) -> Response:
    """Send the request to moto unchanged (method, path, headers, body) and return its answer as is."""
    connection = _connect(moto_url)
    try:
        connection.request(
            request.method,
            request.environ.get("RAW_URI") or request.full_path,
            body=request.get_data(),
            headers={
                name: value for name, value in request.headers.items() if name.lower() not in _NOT_FORWARDED
            },
        )
        answer = connection.getresponse()
        body = answer.read()
    finally:
        connection.close()
    headers = [(name, value) for name, value in answer.getheaders() if name.lower() not in _NOT_FORWARDED]
    return Response(body, answer.status, headers=headers)


def reset_moto(moto_url: str) -> None:
    """Clear every moto backend (`POST /moto-api/reset`)."""
    connection = _connect(moto_url)
    try:
        connection.request("POST", "/moto-api/reset")
        answer = connection.getresponse()
        answer.read()
    finally:
        connection.close()
    if answer.status != 200:
        raise RuntimeError(f"moto reset at {moto_url} answered {answer.status}")


def moto_client(service: str, moto_url: str, region: str, max_pool_connections: int = 10) -> Any:
    """A boto3 client of moto, with moto's dummy credentials and path-style S3 URLs; as many
    connections as the threads that share it."""
    config = Config(
        s3={"addressing_style": "path"},
        retries={"max_attempts": 2},
        max_pool_connections=max_pool_connections,
    )
    return boto3.client(
        service,
        endpoint_url=moto_url,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )


def _connect(moto_url: str) -> http.client.HTTPConnection:
    parts = urlsplit(moto_url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=_TIMEOUT_SECONDS)
