import pytest
from hypothesis import given
from hypothesis import strategies as st

from hitl_detection.domain.s3_uri import S3UriError, bucket_problem, join_s3_uri, parse_s3_uri


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket/images/", ("bucket", "images/")),
        ("s3://bucket/", ("bucket", "")),
        ("s3://my.bucket-1/a/b c/ü.jpg", ("my.bucket-1", "a/b c/ü.jpg")),
        ("s3://bucket", ("bucket", "")),
    ],
)
def test_parses_bucket_and_key(uri, expected):
    assert parse_s3_uri(uri) == expected


@pytest.mark.parametrize("uri", ["s3://bucket/images/", "s3://bucket/"])
def test_prefix_with_slash(uri):
    assert parse_s3_uri(uri, require_prefix_slash=True)[0] == "bucket"


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (None, "S3 URI None is a NoneType, expected a string like s3://bucket/prefix/"),
        ("https://bucket.s3.amazonaws.com/x/", "is not an S3 URI: expected s3://bucket/prefix/"),
        ("S3://bucket/x/", "is not an S3 URI"),
        ("s3:///x/", "bucket name '' has 0 characters; expected 3 to 63"),
        ("s3://ab/x/", "bucket name 'ab' has 2 characters"),
        (f"s3://{'a' * 64}/x/", "has 64 characters"),
        ("s3://My_Bucket/x/", "bucket name 'My_Bucket' has characters other than lowercase letters, digits"),
        ("s3://-bucket/x/", "does not start and end with a letter or digit"),
        ("s3://bucket./x/", "does not start and end with a letter or digit"),
        ("s3://my..bucket/x/", "has two dots in a row"),
        ("s3://192.168.5.4/x/", "is formatted like an IP address"),
        (f"s3://bucket/{'k' * 1025}", "the key is longer than 1024 bytes"),
    ],
)
def test_rejects(uri, message):
    with pytest.raises(S3UriError, match=message):
        parse_s3_uri(uri)


@pytest.mark.parametrize("uri", ["s3://bucket/images", "s3://bucket"])
def test_prefix_must_end_with_a_slash(uri):
    with pytest.raises(S3UriError, match=f"'{uri}' does not end with '/'; expected a prefix like {uri}/"):
        parse_s3_uri(uri, require_prefix_slash=True)


def test_bucket_problem_accepts_valid_names():
    assert bucket_problem("a.b-c.123") is None


def test_join_s3_uri():
    assert join_s3_uri("bucket", "a/b.jpg") == "s3://bucket/a/b.jpg"
    assert join_s3_uri("bucket", "") == "s3://bucket/"
    with pytest.raises(S3UriError, match="bucket name 'B' has 1 characters"):
        join_s3_uri("B", "x")


buckets = st.from_regex(r"[a-z0-9][a-z0-9-]{1,40}[a-z0-9]", fullmatch=True)
keys = st.text(st.characters(codec="utf-8"), max_size=200)


@given(buckets, keys)
def test_join_and_parse_round_trip(bucket, key):
    assert parse_s3_uri(join_s3_uri(bucket, key)) == (bucket, key)
