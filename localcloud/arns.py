"""Addresses the emulated services derive from ARNs, as AWS services do when they deliver."""

from __future__ import annotations


def queue_url(queue_arn: str) -> str:
    """The URL of the SQS queue ``queue_arn``: services send to it without calling GetQueueUrl."""
    _, _, _, region, account, name = queue_arn.split(":", 5)
    return f"https://sqs.{region}.amazonaws.com/{account}/{name}"
