"""Parse and build `s3://bucket/key` URIs, checking bucket names before any call is made.

A typo in a URI should fail the params check with a message that points at it, not fail an
hour later inside a task with an opaque S3 error.
"""

from __future__ import annotations

import re
from typing import Any

S3_SCHEME = "s3://"
MAX_KEY_BYTES = 1024
_BUCKET_CHARS = re.compile(r"[a-z0-9.-]+")
_IPV4 = re.compile(r"\d+\.\d+\.\d+\.\d+")


class S3UriError(ValueError):
    """A string is not a valid S3 URI (or bucket name)."""


def bucket_problem(bucket: str) -> str | None:
    """Why `bucket` is not a valid S3 bucket name, or None when it is."""
    if not 3 <= len(bucket) <= 63:
        return f"bucket name {bucket!r} has {len(bucket)} characters; expected 3 to 63"
    if not _BUCKET_CHARS.fullmatch(bucket):
        return f"bucket name {bucket!r} has characters other than lowercase letters, digits, dots and hyphens"
    if not (bucket[0].isalnum() and bucket[-1].isalnum()):
        return f"bucket name {bucket!r} does not start and end with a letter or digit"
    if ".." in bucket:
        return f"bucket name {bucket!r} has two dots in a row"
    if _IPV4.fullmatch(bucket):
        return f"bucket name {bucket!r} is formatted like an IP address"
    return None


def parse_s3_uri(uri: Any, *, require_prefix_slash: bool = False) -> tuple[str, str]:
    """(bucket, key or prefix) of `s3://bucket/key`.

    With `require_prefix_slash` the URI must name a prefix, ending with '/' (`s3://bucket/` is
    the whole bucket), so that `s3://b/images` cannot silently also match `s3://b/images-old/`.
    """
    if not isinstance(uri, str):
        raise S3UriError(
            f"S3 URI {uri!r} is a {type(uri).__name__}, expected a string like s3://bucket/prefix/"
        )
    if not uri.startswith(S3_SCHEME):
        raise S3UriError(f"{uri!r} is not an S3 URI: expected s3://bucket/prefix/")
    bucket, _, key = uri[len(S3_SCHEME) :].partition("/")
    problem = bucket_problem(bucket)
    if problem:
        raise S3UriError(f"{uri!r}: {problem}")
    if require_prefix_slash and not uri.endswith("/"):
        raise S3UriError(f"{uri!r} does not end with '/'; expected a prefix like {uri}/")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise S3UriError(f"{uri[:80]!r}...: the key is longer than {MAX_KEY_BYTES} bytes")
    return bucket, key


def join_s3_uri(bucket: str, key: str) -> str:
    """`s3://bucket/key`, after checking the bucket name."""
    problem = bucket_problem(bucket)
    if problem:
        raise S3UriError(problem)
    return f"{S3_SCHEME}{bucket}/{key}"
