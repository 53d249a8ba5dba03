"""Who holds which credentials in the local cloud, and what each principal may do.

Every request to the emulation is signed with an access key; :class:`Authority` knows whose
it is: the administrator (tests and the demo), an IAM user, a role session (a function, a
state machine, a training job, a delivery role), or a service acting for one of the stack's
resources. It decides a request as AWS does within one account: an explicit deny in any policy
wins; otherwise the identity's policies or a resource policy naming the caller must allow it;
a KMS key's policy must allow every use of the key, directly or by delegating to the account.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moto.awslambda.models import lambda_backends
from moto.iam.models import iam_backends
from moto.kms.models import kms_backends
from moto.s3.models import s3_backends
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends
from moto.sts.models import sts_backends

from localcloud.iam.policy import (
    Check,
    Effect,
    Principal,
    identity_effect,
    resource_decision,
    statements,
)

ADMIN_ACCESS_KEY = "localcloud"
"""The access key of the administrator: tests, the demo, and CloudFormation acting for them."""

# KMS operations that use the key material: only these need the key to be Enabled. Managing a
# key (EnableKey, CancelKeyDeletion, DescribeKey...) is decided by its policy alone; KMS itself
# refuses what a key's state does not allow.
CRYPTOGRAPHIC_OPERATIONS = frozenset(
    {
        "kms:decrypt",
        "kms:encrypt",
        "kms:generatedatakey",
        "kms:generatedatakeypair",
        "kms:generatedatakeypairwithoutplaintext",
        "kms:generatedatakeywithoutplaintext",
        "kms:generatemac",
        "kms:reencryptfrom",
        "kms:reencryptto",
        "kms:sign",
        "kms:verify",
        "kms:verifymac",
        "kms:derivesharedsecret",
        "kms:getpublickey",
    }
)


@dataclass(frozen=True)
class Credentials:
    """Temporary or long-term credentials, as boto3 takes them."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def as_client_arguments(self) -> dict[str, str]:
        arguments = {"aws_access_key_id": self.access_key_id, "aws_secret_access_key": self.secret_access_key}
        if self.session_token:
            arguments["aws_session_token"] = self.session_token
        return arguments


class DeniedError(Exception):
    """A request the caller's policies, a resource policy or a key's state do not allow."""

    def __init__(self, message: str, *, reason: str = "AccessDeniedError") -> None:
        super().__init__(message)
        self.reason = reason
        """AccessDeniedError, or the key state (Disabled, PendingDeletion) that refused a KMS use."""


class Authority:
    """Credentials issued in the local cloud, and the decision on every request made with them."""

    def __init__(self, account_id: str, region: str) -> None:
        self.account_id = account_id
        self.region = region
        self.admin = Principal(kind="admin", arn=f"arn:aws:iam::{account_id}:root", account_id=account_id)
        self._holders: dict[str, Principal] = {ADMIN_ACCESS_KEY: self.admin}
        self._sessions: dict[tuple[str, str, str], Credentials] = {}
        self._user_keys: dict[str, Credentials] = {}
        self._lock = threading.Lock()

    # Credentials

    def holder(self, access_key_id: str) -> Principal | None:
        """The principal an access key belongs to, if the local cloud issued it."""
        return self._holders.get(access_key_id)

    def assume_role(
        self, role_arn: str, *, service: str, source_arn: str = "", external_id: str | None = None
    ) -> Credentials:
        """Credentials of ``role_arn`` for ``service``, as STS AssumeRole gives them.

        The role's trust policy must allow ``service`` (with ``aws:SourceAccount``,
        ``aws:SourceArn`` and ``sts:ExternalId`` as the service sets them). One session per
        (role, service, source) is kept, as a warm Lambda container keeps its credentials.
        """
        key = (role_arn, service, source_arn)
        with self._lock:
            if key in self._sessions:
                return self._sessions[key]
        role = self._role(role_arn)
        caller = Principal(kind="service", arn=service, account_id=self.account_id, source_arn=source_arn)
        context: dict[str, str] = {"aws:SourceAccount": self.account_id}
        if source_arn:
            context["aws:SourceArn"] = source_arn
        if external_id is not None:
            context["sts:ExternalId"] = external_id
        trust = resource_decision(
            json.loads(role.assume_role_policy_document), caller, Check("sts:AssumeRole", role_arn, context)
        )
        if trust.deny or not trust.allow:
            raise DeniedError(
                f"{service} is not authorized to perform: sts:AssumeRole on resource: {role_arn} "
                "because the role's trust policy does not allow it"
            )
        session_name = service.split(".", maxsplit=1)[0] + "-" + uuid.uuid4().hex[:12]
        credentials = self._issue_session(role_arn, session_name, assumed_by=service)
        with self._lock:
            self._sessions[key] = credentials
        return credentials

    def role_session(self, role_arn: str) -> Credentials:
        """A new session of ``role_arn``, for a test that acts as the role itself."""
        self._role(role_arn)  # a role that does not exist fails here, as AssumeRole would
        return self._issue_session(role_arn, "localcloud-" + uuid.uuid4().hex[:12])

    def _issue_session(self, role_arn: str, session_name: str, *, assumed_by: str = "") -> Credentials:
        assumed = sts_backends[self.account_id]["aws"].assume_role(
            region_name=self.region,
            role_session_name=session_name,
            role_arn=role_arn,
            policy="",
            duration=43200,
            external_id="",
        )
        # A session ARN names the role without its path, as STS does.
        role_name = role_arn.rsplit("/", 1)[-1]
        principal = Principal(
            kind="role",
            arn=role_arn,
            account_id=self.account_id,
            session_arn=f"arn:aws:sts::{self.account_id}:assumed-role/{role_name}/{session_name}",
            assumed_by=assumed_by,
            issued_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        with self._lock:
            self._holders[assumed.access_key_id] = principal
        return Credentials(assumed.access_key_id, assumed.secret_access_key, assumed.session_token)

    def user_credentials(self, user_arn: str) -> Credentials:
        """An access key of the IAM user ``user_arn``: one, created on first use (IAM allows a user two)."""
        with self._lock:
            if user_arn in self._user_keys:
                return self._user_keys[user_arn]
        backend = iam_backends[self.account_id]["global"]
        name = user_arn.rsplit("/", 1)[-1]
        key = backend.create_access_key(name)
        credentials = Credentials(key.access_key_id, key.secret_access_key)
        with self._lock:
            self._holders[key.access_key_id] = Principal(kind="user", arn=user_arn, account_id=self.account_id)
            self._user_keys[user_arn] = credentials
        return credentials

    def service_principal(self, service: str, source_arn: str = "") -> tuple[Principal, Credentials]:
        """Credentials that act as ``service`` for the stack's resource ``source_arn``."""
        access_key = "SVC" + uuid.uuid4().hex[:17].upper()
        principal = Principal(kind="service", arn=service, account_id=self.account_id, source_arn=source_arn)
        with self._lock:
            self._holders[access_key] = principal
        return principal, Credentials(access_key, "service")

    # Decisions

    def authorize(self, principal: Principal, checks: Sequence[Check]) -> None:
        """Raise :class:`DeniedError` unless ``principal`` may make every one of ``checks``."""
        for check in checks:
            if check.action == "sts:GetCallerIdentity":  # needs no permission on AWS either
                continue
            self._authorize(principal, check)

    def _authorize(self, principal: Principal, check: Check) -> None:
        context = {**self._global_context(principal), **check.context}
        check = Check(check.action, check.resource, context)
        identity = self._identity_effect(principal, check)
        resource = resource_decision(self._resource_policy(check.resource), principal, check)
        is_key = check.action.lower().startswith("kms:") and ":key/" in check.resource
        if identity is Effect.DENY or resource.deny:
            where = "an identity-based policy" if identity is Effect.DENY else "a resource-based policy"
            self._deny(principal, check, f"with an explicit deny in {where}")
        if is_key:
            state = self.key_state(check.resource)
            if state != "Enabled" and check.action.lower() in CRYPTOGRAPHIC_OPERATIONS:
                raise DeniedError(f"{check.resource} is {state}", reason=state)
            if not (resource.allow or (resource.allow_account and identity is Effect.ALLOW)):
                self._deny(principal, check, "because the key policy does not allow it")
            return
        if identity is Effect.ALLOW or resource.allow:
            return
        self._deny(principal, check, f"because no identity-based policy allows the {check.action} action")

    @staticmethod
    def _deny(principal: Principal, check: Check, why: str) -> None:
        raise DeniedError(
            f"User: {principal.display} is not authorized to perform: {check.action} "
            f"on resource: {check.resource} {why}"
        )

    def _global_context(self, principal: Principal) -> dict[str, Any]:
        context: dict[str, Any] = {"aws:SecureTransport": "true", "aws:PrincipalAccount": self.account_id}
        if principal.kind == "service":
            context["aws:PrincipalServiceName"] = principal.arn
            context["aws:SourceAccount"] = context["aws:SourceOwner"] = self.account_id
            if principal.source_arn:
                context["aws:SourceArn"] = principal.source_arn
        else:
            context["aws:PrincipalArn"] = principal.arn
            context["aws:PrincipalType"] = {"role": "AssumedRole", "user": "User"}.get(principal.kind, "Account")
        return context

    def _identity_effect(self, principal: Principal, check: Check) -> Effect:
        if principal.kind == "admin":
            return Effect.ALLOW
        if principal.kind == "service":
            return Effect.NEUTRAL
        documents, boundary = self._identity_policies(principal)
        effect = identity_effect(documents, check)
        if effect is Effect.ALLOW and boundary is not None and identity_effect([boundary], check) is not Effect.ALLOW:
            return Effect.NEUTRAL
        return effect

    def _identity_policies(self, principal: Principal) -> tuple[list[Mapping[str, Any]], Mapping[str, Any] | None]:
        backend = iam_backends[self.account_id]["global"]
        name = principal.arn.rsplit("/", 1)[-1]
        entity: Any = self._role(principal.arn) if principal.kind == "role" else backend.get_user(name)
        documents: list[Mapping[str, Any]] = [_document(d) for d in entity.policies.values()]
        documents += [_managed_document(p) for p in entity.managed_policies.values()]
        for group in getattr(entity, "groups", []) or []:
            documents += [_document(d) for d in group.policies.values()]
            documents += [_managed_document(p) for p in group.managed_policies.values()]
        boundary = None
        boundary_arn = getattr(entity, "permissions_boundary_arn", None) or getattr(
            entity, "permissions_boundary", None
        )
        if isinstance(boundary_arn, str) and boundary_arn:
            boundary = _managed_document(backend.get_policy(boundary_arn))
        return documents, boundary

    def _role(self, role_arn: str) -> Any:
        """The role ``role_arn`` names; its name is the ARN's last segment, whatever its path."""
        backend = iam_backends[self.account_id]["global"]
        return backend.get_role(role_arn.rsplit("/", 1)[-1])

    def _resource_policy(self, resource: str) -> Mapping[str, Any] | None:
        """The resource-based policy that governs ``resource``, if its service has them."""
        service = resource.split(":")[2] if resource.count(":") >= 5 else ""
        name = resource.rsplit(":", 1)[-1]
        policy: Any = None
        if service == "s3":
            bucket = s3_backends[self.account_id]["aws"].buckets.get(resource.split(":::", 1)[1].split("/", 1)[0])
            policy = bucket.policy if bucket is not None else None
        elif service == "sqs":
            queue = sqs_backends[self.account_id][self.region].queues.get(name)
            policy = queue.policy if queue is not None else None
        elif service == "sns":
            topic = sns_backends[self.account_id][self.region].topics.get(resource)
            policy = topic.policy if topic is not None else None
        elif service == "lambda":
            entry = lambda_backends[self.account_id][self.region]._lambdas._functions.get(resource.split(":")[6])
            statements_ = entry["latest"].policy.statements if entry else []
            policy = {"Statement": statements_} if statements_ else None
        elif service == "kms" and ":key/" in resource:
            keys = kms_backends[self.account_id][self.region].keys
            key = keys.get(resource.rsplit("/", 1)[-1])
            policy = key.policy if key is not None else None
        return _document(policy) if policy else None

    def key_state(self, key_arn: str) -> str:
        """Enabled, Disabled or PendingDeletion."""
        key = kms_backends[self.account_id][self.region].keys.get(key_arn.rsplit("/", 1)[-1])
        return str(key.key_state) if key is not None else "NotFound"


def _managed_document(policy: Any) -> dict[str, Any]:
    """The default version of a managed policy."""
    (version,) = [v for v in policy.versions if v.version_id == policy.default_version_id]
    return _document(version.document)


def _document(value: Any) -> dict[str, Any]:
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        value = json.loads(value)
    document: dict[str, Any] = dict(value)
    if "Statement" in document:
        document["Statement"] = statements(document)
    return document
