"""CloudTrail's record of an API call, in the shape CloudTrail delivers it through EventBridge.

One function, :func:`api_call_event`, turns a call made in the local cloud (service, operation,
parameters, caller, outcome) into the "AWS API Call via CloudTrail" event that a rule on the
default bus receives: the EventBridge envelope (``source`` ``aws.<service>``) around CloudTrail's
record (``eventVersion`` 1.08). What CloudTrail records is decided here too: management events
that change something (:func:`recorded`); data events (object, item, message and record calls,
invocations, metric and log writes, PutEvents) and read-only calls are not delivered to rules.

Shapes follow the AWS documentation's examples (tests/fixtures/cloudtrail/ holds them, with their
pages): ``eventName`` as CloudTrail names the call (S3's PutPublicAccessBlock is logged as
``PutBucketPublicAccessBlock``); ``requestParameters`` with the API's member names in lower camel
case, or, for S3, ``bucketName``, ``Host``, the subresource and the XML body under its own element
name (``PublicAccessBlockConfiguration``, ``VersioningConfiguration``, ``bucketPolicy``...);
``responseElements`` null where CloudTrail logs null; ``errorCode`` and ``errorMessage`` for a call
that failed or was refused.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape
from moto.iam.models import iam_backends
from moto.kms.models import kms_backends

from localcloud.iam import Principal

DETAIL_TYPE = "AWS API Call via CloudTrail"
EVENT_VERSION = "1.08"
S3_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
CLOUDFORMATION = "cloudformation.amazonaws.com"

# Calls CloudTrail logs under another name than the API operation's.
EVENT_NAMES = {
    ("s3", "PutPublicAccessBlock"): "PutBucketPublicAccessBlock",
    ("s3", "GetPublicAccessBlock"): "GetBucketPublicAccessBlock",
    ("s3", "DeletePublicAccessBlock"): "DeleteBucketPublicAccessBlock",
    ("s3", "PutBucketNotificationConfiguration"): "PutBucketNotification",
    ("s3", "GetBucketNotificationConfiguration"): "GetBucketNotification",
    ("s3", "PutBucketLifecycleConfiguration"): "PutBucketLifecycle",
    ("s3", "GetBucketLifecycleConfiguration"): "GetBucketLifecycle",
    ("s3", "ListObjectsV2"): "ListObjects",
    # Lambda logs the API version its operations are served under.
    ("lambda", "CreateFunction"): "CreateFunction20150331",
    ("lambda", "DeleteFunction"): "DeleteFunction20150331",
    ("lambda", "UpdateFunctionCode"): "UpdateFunctionCode20150331v2",
    ("lambda", "UpdateFunctionConfiguration"): "UpdateFunctionConfiguration20150331v2",
    ("lambda", "AddPermission"): "AddPermission20150331v2",
    ("lambda", "RemovePermission"): "RemovePermission20150331v2",
    ("lambda", "PublishVersion"): "PublishVersion20150331",
    ("lambda", "CreateAlias"): "CreateAlias20150331",
    ("lambda", "UpdateAlias"): "UpdateAlias20150331",
    ("lambda", "DeleteAlias"): "DeleteAlias20150331",
    ("lambda", "CreateEventSourceMapping"): "CreateEventSourceMapping20150331",
    ("lambda", "UpdateEventSourceMapping"): "UpdateEventSourceMapping20150331",
    ("lambda", "DeleteEventSourceMapping"): "DeleteEventSourceMapping20150331",
    ("lambda", "PutFunctionConcurrency"): "PutFunctionConcurrency20171031",
    ("lambda", "PublishLayerVersion"): "PublishLayerVersion20181031",
}
# Data events: CloudTrail logs them only for trails that select them, and never delivers them to
# rules that match management events. S3 object-level calls are those naming a Key.
DATA_EVENTS: dict[str, frozenset[str]] = {
    "s3": frozenset({"DeleteObjects", "ListObjects", "ListObjectsV2", "ListObjectVersions", "ListMultipartUploads"}),
    "dynamodb": frozenset(
        {
            "GetItem",
            "PutItem",
            "UpdateItem",
            "DeleteItem",
            "BatchGetItem",
            "BatchWriteItem",
            "Query",
            "Scan",
            "TransactGetItems",
            "TransactWriteItems",
            "ExecuteStatement",
            "BatchExecuteStatement",
            "ExecuteTransaction",
        }
    ),
    "lambda": frozenset({"Invoke", "InvokeAsync", "InvokeWithResponseStream"}),
    "sqs": frozenset(
        {
            "SendMessage",
            "SendMessageBatch",
            "ReceiveMessage",
            "DeleteMessage",
            "DeleteMessageBatch",
            "ChangeMessageVisibility",
            "ChangeMessageVisibilityBatch",
        }
    ),
    "sns": frozenset({"Publish", "PublishBatch"}),
    "firehose": frozenset({"PutRecord", "PutRecordBatch"}),
    "kinesis": frozenset({"PutRecord", "PutRecords", "GetRecords", "GetShardIterator", "SubscribeToShard"}),
    "logs": frozenset({"PutLogEvents", "GetLogEvents", "FilterLogEvents"}),
    "cloudwatch": frozenset({"PutMetricData", "GetMetricData", "GetMetricStatistics", "ListMetrics"}),
    "events": frozenset({"PutEvents", "PutPartnerEvents"}),
    "stepfunctions": frozenset(
        {"SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat", "GetActivityTask", "StartSyncExecution"}
    ),
    "xray": frozenset({"PutTraceSegments", "PutTelemetryRecords", "GetSamplingRules", "GetSamplingTargets"}),
}
# Services whose every call is a data event or read-only.
UNRECORDED_SERVICES = frozenset({"sagemaker-runtime", "iot-data", "dynamodbstreams", "sts"})
READ_ONLY_PREFIXES = (
    "Get",
    "List",
    "Describe",
    "Head",
    "Lookup",
    "Search",
    "Select",
    "BatchGet",
    "Query",
    "Scan",
    "Test",
    "Preview",
    "Estimate",
    "Validate",
    "Simulate",
)
# KMS logs its cryptographic operations as read-only management events.
READ_ONLY_KMS = frozenset(
    {
        "Encrypt",
        "Decrypt",
        "ReEncrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "GenerateRandom",
        "GenerateMac",
        "VerifyMac",
        "Sign",
        "Verify",
        "DeriveSharedSecret",
    }
)
# Services whose events CloudTrail treats as global (logged only by trails that include them).
GLOBAL_SERVICES = frozenset({"iam", "sts", "cloudfront", "route53", "organizations"})

_session = botocore.session.get_session()


@dataclass(frozen=True)
class Caller:
    """Who made a call: the principal, the access key it signed with, and the service acting for it."""

    principal: Principal
    access_key_id: str
    invoked_by: str = ""
    """An AWS service that made the call (CloudFormation during a deploy, a role's service), or ""."""
    user_agent: str = ""


def event_name(service: str, operation: str) -> str:
    """The ``eventName`` CloudTrail logs ``operation`` of ``service`` under."""
    return EVENT_NAMES.get((service, operation), operation)


@cache
def event_source(service: str) -> str:
    """``eventSource``: the service's endpoint, e.g. ``s3.amazonaws.com``, ``greengrass.amazonaws.com``."""
    metadata = _session.get_service_model(service).metadata
    return f"{metadata.get('signingName') or metadata['endpointPrefix']}.amazonaws.com"


def bridge_source(source: str) -> str:
    """The EventBridge ``source`` of events from ``eventSource`` ``source``: ``aws.<service>``."""
    return "aws." + source.split(".", 1)[0]


@cache
def is_read_only(service: str, operation: str) -> bool:
    """Whether CloudTrail logs ``operation`` with ``readOnly`` true."""
    if service == "kms" and operation in READ_ONLY_KMS:
        return True
    return operation.startswith(READ_ONLY_PREFIXES)


def recorded(service: str, operation: str, params: Mapping[str, Any]) -> bool:
    """Whether a rule on the default bus receives this call: a management event that writes."""
    if service == "s3" and "Key" in params:
        return False
    return _recorded(service, operation)


@cache
def _recorded(service: str, operation: str) -> bool:
    if service in UNRECORDED_SERVICES or operation in DATA_EVENTS.get(service, ()):
        return False
    return not is_read_only(service, operation)


@cache
def _operation(service: str, operation: str) -> OperationModel:
    return _session.get_service_model(service).operation_model(operation)


def _lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _iso(moment: datetime) -> str:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _response_time(moment: datetime) -> str:
    """A date in a response element, as CloudTrail writes it: ``Apr 12, 2021, 6:58:30 PM``."""
    hour = moment.hour % 12 or 12
    return f"{moment:%b} {moment.day}, {moment.year}, {hour}:{moment:%M:%S} {moment:%p}"


def _json_value(value: Any, shape: Shape | None, *, response: bool = False) -> Any:
    """A parameter or response value in CloudTrail's JSON: members in lower camel case."""
    if shape is not None and shape.metadata.get("sensitive"):
        return HIDDEN
    if isinstance(shape, StructureShape) and isinstance(value, Mapping):
        return {
            _lower_camel(k): _json_value(v, shape.members.get(k), response=response)
            for k, v in value.items()
            if k != "ResponseMetadata"
        }
    if isinstance(shape, ListShape) and isinstance(value, list | tuple):
        return [_json_value(v, shape.member, response=response) for v in value]
    if isinstance(shape, MapShape) and isinstance(value, Mapping):
        return {k: _json_value(v, shape.value, response=response) for k, v in value.items()}
    return _scalar(value, response=response)


def _scalar(value: Any, *, response: bool) -> Any:
    if isinstance(value, datetime):
        return _response_time(value) if response else _iso(value)
    if isinstance(value, bytes | bytearray) or hasattr(value, "read"):
        return HIDDEN
    return value


def _xml_value(value: Any, shape: Shape | None) -> Any:
    """An S3 XML body as CloudTrail renders it: elements by their XML names, a lone element as an object."""
    if isinstance(shape, StructureShape) and isinstance(value, Mapping):
        rendered: dict[str, Any] = {}
        for key, item in value.items():
            member = shape.members.get(key)
            serialization = member.serialization if member is not None else {}
            name = str(serialization.get("name", key))
            if isinstance(member, ListShape) and not serialization.get("flattened"):
                element = member.member.serialization.get("name", "member")
                rendered[name] = {element: _xml_list(item, member)}
            elif isinstance(member, ListShape):
                rendered[name] = _xml_list(item, member)
            else:
                rendered[name] = _xml_value(item, member)
        return rendered
    # S3 logs its bodies in full: a key ID the SDK marks sensitive (KMSMasterKeyID) is not a secret.
    return _scalar(value, response=False)


def _xml_list(items: list[Any], shape: ListShape) -> Any:
    rendered = [_xml_value(item, shape.member) for item in items]
    return rendered[0] if len(rendered) == 1 else rendered


def request_parameters(service: str, operation: str, params: Mapping[str, Any], region: str) -> dict[str, Any]:
    """``requestParameters`` of a call, in CloudTrail's shape."""
    model = _operation(service, operation)
    if service == "s3":
        return _s3_request_parameters(model, params, region)
    rendered = _json_value(dict(params), model.input_shape)
    return rendered if isinstance(rendered, dict) else {}


def _s3_request_parameters(model: OperationModel, params: Mapping[str, Any], region: str) -> dict[str, Any]:
    shape = model.input_shape
    bucket = params.get("Bucket", "")
    host = f"{bucket}.s3.amazonaws.com" if region == "us-east-1" else f"{bucket}.s3.{region}.amazonaws.com"
    rendered: dict[str, Any] = {"bucketName": bucket, "Host": host} if bucket else {"Host": "s3.amazonaws.com"}
    _, _, query = model.http["requestUri"].partition("?")
    for subresource in filter(None, query.split("&")):
        rendered[subresource.split("=", 1)[0]] = ""
    payload = shape.serialization.get("payload") if shape is not None else None
    for name, value in params.items():
        member = shape.members.get(name) if shape is not None else None
        if member is None or name == "Bucket":
            continue
        location = member.serialization.get("location")
        if name == payload and name == "Policy":
            rendered["bucketPolicy"] = json.loads(value)
        elif name == payload:
            body = _xml_value(value, member)
            rendered[member.serialization.get("name", name)] = {"xmlns": S3_XMLNS, **body}
        elif location == "header" and name not in {"ContentMD5", "ChecksumAlgorithm", "ExpectedBucketOwner"}:
            rendered[member.serialization["name"]] = _json_value(value, member)
    return rendered


def response_elements(service: str, operation: str, response: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``responseElements``: null for S3 bucket calls and for calls that return nothing."""
    model = _operation(service, operation)
    returned = {k: v for k, v in (response or {}).items() if k != "ResponseMetadata"}
    if service == "s3" or model.output_shape is None or not returned:
        return None
    rendered: dict[str, Any] = _json_value(returned, model.output_shape, response=True)
    return rendered or None


def user_identity(caller: Caller, account_id: str) -> dict[str, Any]:
    """``userIdentity``: IAMUser, AssumedRole (with its issuer), AWSService, or Root."""
    principal = caller.principal
    identity: dict[str, Any]
    if principal.kind == "service":
        return {"type": "AWSService", "invokedBy": principal.arn}
    backend = iam_backends[account_id]["global"]
    if principal.kind == "role":
        role_name = principal.arn.rsplit("/", 1)[-1]
        role_id = next((r.id for r in backend.roles.values() if r.name == role_name), role_name)
        session_name = principal.session_arn.rsplit("/", 1)[-1]
        identity = {
            "type": "AssumedRole",
            "principalId": f"{role_id}:{session_name}",
            "arn": principal.session_arn,
            "accountId": account_id,
            "accessKeyId": caller.access_key_id,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": role_id,
                    "arn": principal.arn,
                    "accountId": account_id,
                    "userName": role_name,
                },
                "webIdFederationData": {},
                "attributes": {"creationDate": principal.issued_at, "mfaAuthenticated": "false"},
            },
        }
    elif principal.kind == "user":
        user_name = principal.arn.rsplit("/", 1)[-1]
        user = backend.users.get(user_name)
        identity = {
            "type": "IAMUser",
            "principalId": user.id if user is not None else user_name,
            "arn": principal.arn,
            "accountId": account_id,
            "accessKeyId": caller.access_key_id,
            "userName": user_name,
        }
    else:
        identity = {
            "type": "Root",
            "principalId": account_id,
            "arn": f"arn:aws:iam::{account_id}:root",
            "accountId": account_id,
            "accessKeyId": caller.access_key_id,
        }
    if caller.invoked_by:
        identity["invokedBy"] = caller.invoked_by
    return identity


def resources(service: str, params: Mapping[str, Any], account_id: str, region: str) -> list[dict[str, str]] | None:
    """The ``resources`` CloudTrail lists for S3 bucket and KMS key calls (others list none here)."""
    if service == "s3" and params.get("Bucket"):
        return [{"accountId": account_id, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{params['Bucket']}"}]
    key = params.get("KeyId") or params.get("TargetKeyId")
    if service == "kms" and isinstance(key, str):
        return [{"accountId": account_id, "type": "AWS::KMS::Key", "ARN": key_arn(key, account_id, region)}]
    return None


def key_arn(key: str, account_id: str, region: str) -> str:
    """The ARN of a KMS key named by id, ARN, alias or alias ARN (as given, if unknown)."""
    try:
        key_id = kms_backends[account_id][region].any_id_to_key_id(key)
    except Exception:  # an alias that does not exist: the call itself failed with NotFound
        return key
    return f"arn:aws:kms:{region}:{account_id}:key/{key_id}"


def api_call_event(
    *,
    service: str,
    operation: str,
    params: Mapping[str, Any],
    caller: Caller,
    account_id: str,
    region: str,
    now: datetime,
    response: Mapping[str, Any] | None = None,
    error: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The "AWS API Call via CloudTrail" event for one call, as a rule on the default bus receives it.

    ``response`` is the parsed response of a call that succeeded; ``error`` the parsed error
    response (``{"Error": {"Code", "Message"}, "ResponseMetadata": ...}``) of one that failed.
    """
    source = event_source(service)
    via = caller.invoked_by
    metadata = (error or response or {}).get("ResponseMetadata", {})
    detail: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": user_identity(caller, account_id),
        "eventTime": _iso(now),
        "eventSource": source,
        "eventName": event_name(service, operation),
        "awsRegion": region,
        "sourceIPAddress": via or "127.0.0.1",
        "userAgent": via or caller.user_agent,
    }
    if error is not None:
        detail["errorCode"] = error.get("Error", {}).get("Code", "")
        detail["errorMessage"] = error.get("Error", {}).get("Message", "")
    detail["requestParameters"] = request_parameters(service, operation, params, region)
    detail["responseElements"] = response_elements(service, operation, response) if error is None else None
    if service == "s3":
        detail["additionalEventData"] = {
            "SignatureVersion": "SigV4",
            "CipherSuite": "TLS_AES_128_GCM_SHA256",
            "bytesTransferredIn": 0,
            "AuthenticationMethod": "AuthHeader",
            "x-amz-id-2": uuid.uuid4().hex,
            "bytesTransferredOut": 0,
        }
    detail["requestID"] = metadata.get("RequestId") or str(uuid.uuid4())
    detail["eventID"] = str(uuid.uuid4())
    detail["readOnly"] = is_read_only(service, operation)
    listed = resources(service, params, account_id, region)
    if listed is not None:
        detail["resources"] = listed
    detail["eventType"] = "AwsApiCall"
    detail["managementEvent"] = True
    detail["recipientAccountId"] = account_id
    detail["eventCategory"] = "Management"
    if not via:
        endpoint = f"{source.split('.')[0]}.{region}.amazonaws.com"
        host = detail["requestParameters"].get("Host", endpoint) if service == "s3" else endpoint
        detail["tlsDetails"] = {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": host,
        }
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": bridge_source(source),
        "account": account_id,
        "time": _iso(now),
        "region": region,
        "resources": [],
        "detail": detail,
    }
