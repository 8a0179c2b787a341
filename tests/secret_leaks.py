"""Where a run's secrets could end up, and the check that none is there: the tests of both review
backends (`tests/faults/test_secrets.py`, `tests/labelstudio/test_secrets_labelstudio.py`) gather
what a person or a downstream tool can read after a run and search it the same way."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

# A presigned URL's signature (`X-Amz-Signature=...` of SigV4, `Signature=...` of SigV2); a value
# already masked as Airflow and the Label Studio hook do it (`***`) is none.
SIGNATURE = re.compile(r"Signature=(?!\*\*\*)[^&\s\"'\\]")


def stored_by_airflow(dag_ids: tuple[str, ...]) -> list[str]:
    """XCom values, rendered template fields, audit log entries and asset events, as text."""
    from airflow.models.asset import AssetEvent
    from airflow.models.log import Log
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        texts = [
            str(value)
            for value in session.scalars(select(XComModel.value).where(XComModel.dag_id.in_(dag_ids)))
        ]
        texts += [
            json.dumps(fields, default=str)
            for fields in session.scalars(
                select(RenderedTaskInstanceFields.rendered_fields).where(
                    RenderedTaskInstanceFields.dag_id.in_(dag_ids)
                )
            )
        ]
        texts += [str(extra) for extra in session.scalars(select(Log.extra)) if extra]
        texts += [json.dumps(extra, default=str) for extra in session.scalars(select(AssetEvent.extra))]
    return texts


def written_under(s3, bucket: str, prefix: str) -> dict[str, str]:
    """Every object under `prefix` of `bucket`, by key, as text."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {
        item["Key"]: s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode(errors="replace")
        for page in pages
        for item in page.get("Contents", ())
    }


def assert_nowhere(secret: str, places: Mapping[str, str]) -> None:
    """Neither `secret` nor a presigned URL's signature is in any of the texts, named by place."""
    for place, text in places.items():
        assert secret not in text, f"the connection's secret key is in {place}"
        signature = SIGNATURE.search(text)
        if signature is not None:
            around = text[max(signature.start() - 120, 0) : signature.end() + 20]
            raise AssertionError(f"a presigned URL's signature is in {place}: ...{around}")
