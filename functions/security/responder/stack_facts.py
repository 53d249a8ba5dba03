"""What the responder knows of the stack it guards: its settings and the facts derived from them.

The stack's account, Region and partition are those of its KMS key's ARN (the key is one of the
stack's own resources), so the responder needs no STS call to know where it runs.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import field_validator

from conveyor.settings import Settings

KEY_ARN = re.compile(r"^arn:(?P<partition>[\w-]+):kms:(?P<region>[\w-]+):(?P<account>\d{12}):key/(?P<key_id>[\w-]+)$")
TRAIL_ARN = re.compile(r"^arn:[\w-]+:cloudtrail:[\w-]+:(?P<account>\d{12}):trail/(?P<name>[\w.-]+)$")
THING_GROUP_ARN = re.compile(r"^arn:[\w-]+:iot:[\w-]+:\d{12}:thinggroup/.+$")
SNS_TOPIC_ARN = re.compile(r"^arn:[\w-]+:sns:[\w-]+:\d{12}:[\w-]+$")

BucketRole = Literal["data", "artifact", "log"]
# Access-log prefixes of the buckets that log into the log bucket (template.yaml's LoggingConfiguration).
LOG_PREFIXES: dict[BucketRole, str] = {"data": "data/", "artifact": "artifacts/"}


class ResponderSettings(Settings):
    """The responder's environment: the stack's resources it guards, and where it reports.

    ``stack_role_path`` is the IAM path every role of the stack has (``/<project>/<stage>/``);
    ``stack_role_names`` lists the stack's role names, comma-separated (a CloudTrail IAM event
    names the role, never its path). ``security_hub`` is ``enabled`` or ``disabled``.
    ``unfreeze_function_name`` (optional) puts the exact unfreeze call in the alert.
    """

    data_bucket_name: str
    artifact_bucket_name: str
    log_bucket_name: str
    notification_topic_arn: str
    key_arn: str
    trail_arn: str
    stack_role_path: str
    stack_role_names: tuple[str, ...]
    endpoint_name: str
    thing_group_arn: str
    security_hub: Literal["enabled", "disabled"] = "disabled"
    # Optional: lets the alert give the exact unfreeze call.
    unfreeze_function_name: str | None = None

    @field_validator("stack_role_names", mode="before")
    @classmethod
    def _split_names(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(name.strip() for name in value.split(",") if name.strip())
        return value

    @field_validator("stack_role_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not (value.startswith("/") and value.endswith("/") and len(value) > 2):
            raise ValueError("an IAM path such as /conveyor/dev/ (starts and ends with /, not / alone)")
        return value

    @field_validator("key_arn")
    @classmethod
    def _key_arn(cls, value: str) -> str:
        if not KEY_ARN.match(value):
            raise ValueError("a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<key id>)")
        return value

    @field_validator("trail_arn")
    @classmethod
    def _trail_arn(cls, value: str) -> str:
        if not TRAIL_ARN.match(value):
            raise ValueError("a CloudTrail trail ARN (arn:<partition>:cloudtrail:<region>:<account>:trail/<name>)")
        return value

    @field_validator("thing_group_arn")
    @classmethod
    def _thing_group_arn(cls, value: str) -> str:
        # Empty: the stack has no fleet (EdgeThingGroup empty), and no deployment is its.
        if value and not THING_GROUP_ARN.match(value):
            raise ValueError(
                "empty, or an IoT thing group ARN (arn:<partition>:iot:<region>:<account>:thinggroup/<name>)"
            )
        return value

    @field_validator("notification_topic_arn")
    @classmethod
    def _topic_arn(cls, value: str) -> str:
        if not SNS_TOPIC_ARN.match(value):
            raise ValueError("an SNS topic ARN")
        return value

    def _key(self, group: str) -> str:
        match = KEY_ARN.match(self.key_arn)
        assert match is not None  # checked by the validator
        return match.group(group)

    @property
    def partition(self) -> str:
        return self._key("partition")

    @property
    def region(self) -> str:
        return self._key("region")

    @property
    def account_id(self) -> str:
        return self._key("account")

    @property
    def key_id(self) -> str:
        return self._key("key_id")

    @property
    def key_alias(self) -> str:
        """template.yaml's KeyAlias."""
        return f"alias/{self.project_name}-{self.stage}"

    @property
    def key_names(self) -> frozenset[str]:
        """Every way a KMS request can name the stack's key: id, ARN, alias name, alias ARN."""
        alias_arn = f"arn:{self.partition}:kms:{self.region}:{self.account_id}:{self.key_alias}"
        return frozenset({self.key_id, self.key_arn, self.key_alias, alias_arn})

    @property
    def trail_name(self) -> str:
        match = TRAIL_ARN.match(self.trail_arn)
        assert match is not None  # checked by the validator
        return match.group("name")

    @property
    def own_trail_arn(self) -> str:
        """The trail the stack creates unless an organisation trail stands in for it (template.yaml's Trail)."""
        return f"arn:{self.partition}:cloudtrail:{self.region}:{self.account_id}:trail/{self.project_name}-{self.stage}"

    @property
    def trail_is_the_stacks(self) -> bool:
        """Whether the trail is the stack's own, which writes into the stack's log bucket.

        An organisation trail that stands in for it is its owner's to restore.
        """
        return self.trail_arn == self.own_trail_arn

    @property
    def buckets(self) -> dict[str, BucketRole]:
        """The stack's buckets by name."""
        return {self.data_bucket_name: "data", self.artifact_bucket_name: "artifact", self.log_bucket_name: "log"}

    @property
    def stack_role_arn_prefix(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:role{self.stack_role_path}"

    def bucket_arn(self, bucket: str) -> str:
        return f"arn:{self.partition}:s3:::{bucket}"
