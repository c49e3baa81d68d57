"""Textract's completion notice resumes the execution that started the job.

Textract posts ``{"JobId", "Status", "API", "JobTag", "Timestamp", "DocumentLocation"}`` to the SNS topic of
the job's NotificationChannel; the execution waits on a task token it stored under the job's ID (DynamoDB
``putItem.waitForTaskToken``). This function finds the token and ends the wait: success with the job's ID and
status, or failure with Textract's status.

A notice can arrive before the token is stored (a job that ends within moments of its start): the function
then fails, Lambda retries the asynchronous invocation, and a notice that never finds its token lands in the
dead-letter queue, which alarms.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


class TokenNotStoredYet(Exception):
    """The execution has not stored its task token yet: let Lambda retry."""


def handle(event: dict[str, Any], context: Any = None, *, dynamodb=None, states=None) -> dict[str, Any]:
    dynamodb = dynamodb or boto3.client("dynamodb", config=_CONFIG)
    states = states or boto3.client("stepfunctions", config=_CONFIG)
    table = os.environ["TOKEN_TABLE"]
    resumed = []
    for record in event["Records"]:
        notice = json.loads(record["Sns"]["Message"])
        job_id = notice["JobId"]
        item = dynamodb.get_item(TableName=table, Key={"JobId": {"S": job_id}}, ConsistentRead=True).get(
            "Item"
        )
        if item is None:
            raise TokenNotStoredYet(f"no task token stored for Textract job {job_id} yet")
        token = item["TaskToken"]["S"]
        status = notice.get("Status", "")
        try:
            if status == "SUCCEEDED":
                states.send_task_success(
                    taskToken=token, output=json.dumps({"JobId": job_id, "Status": status})
                )
            else:
                states.send_task_failure(
                    taskToken=token,
                    error="TextractJobFailed",
                    cause=f"Textract job {job_id} ended {status or 'without a status'} ({notice.get('API', '')})",
                )
        except (
            states.exceptions.TaskDoesNotExist,
            states.exceptions.TaskTimedOut,
            states.exceptions.InvalidToken,
        ):
            pass  # the execution already ended (timed out, stopped): nothing waits for this job any more
        dynamodb.delete_item(TableName=table, Key={"JobId": {"S": job_id}})
        resumed.append({"JobId": job_id, "Status": status})
    return {"Resumed": resumed}
