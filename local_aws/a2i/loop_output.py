"""The output.json A2I writes when a human loop's last worker answers, at A2I's key layout."""

import json
from datetime import datetime
from typing import Any

from local_aws.core.timestamps import to_iso


def output_s3_uri(output_s3_path: str, flow_definition_name: str, loop_name: str, created: datetime) -> str:
    """`<S3OutputPath>/<flow-definition-name>/YYYY/MM/DD/hh/mm/ss/<human-loop-name>/output.json` (UTC)."""
    prefix = output_s3_path.rstrip("/")
    return f"{prefix}/{flow_definition_name}/{created:%Y/%m/%d/%H/%M/%S}/{loop_name}/output.json"


def output_document(
    flow_definition_arn: str, loop_name: str, task_input: Any, human_answers: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "flowDefinitionArn": flow_definition_arn,
        "humanLoopName": loop_name,
        "inputContent": task_input,
        "humanAnswers": human_answers,
    }


def human_answer(
    worker_id: str,
    answer_content: dict[str, Any],
    submitted: datetime,
    time_spent_seconds: float,
    region: str,
) -> dict[str, Any]:
    """One `humanAnswers` entry; the worker is identified the way a private (Cognito) workforce does."""
    accepted = datetime.fromtimestamp(submitted.timestamp() - time_spent_seconds, submitted.tzinfo)
    return {
        "acceptanceTime": to_iso(accepted),
        "answerContent": answer_content,
        "submissionTime": to_iso(submitted),
        "timeSpentInSeconds": time_spent_seconds,
        "workerId": worker_id,
        "workerMetadata": {
            "identityData": {
                "identityProviderType": "Cognito",
                "issuer": f"https://cognito-idp.{region}.amazonaws.com/{region}_local",
                "sub": worker_id,
            }
        },
    }


def write_output(s3_client: Any, uri: str, document: dict[str, Any]) -> None:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    s3_client.put_object(
        Bucket=bucket, Key=key, Body=json.dumps(document).encode(), ContentType="application/json"
    )
