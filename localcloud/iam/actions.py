"""What a request asks to do, in IAM's terms: the actions, resources and context keys it needs.

One API operation may need several permissions: CopyObject reads one object and writes another;
CreateTrainingJob passes a role; writing to an SSE-KMS bucket, queue or topic uses the key
for the caller. :func:`checks` lists them all. An operation the local cloud has no resource model
for raises :class:`UnmodelledOperationError` for any principal but the administrator, so a
permission is never granted by default.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import yaml
from moto.applicationautoscaling.models import applicationautoscaling_backends
from moto.dynamodb.models import dynamodb_backends
from moto.iam.models import iam_backends
from moto.kms.models import kms_backends
from moto.s3.models import s3_backends
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends

from localcloud.iam.policy import Check

# boto3 service names whose IAM prefix differs.
PREFIXES = {
    "stepfunctions": "states",
    "sagemaker-runtime": "sagemaker",
    "cloudwatch": "cloudwatch",
    "greengrassv2": "greengrass",
}
# Operations whose IAM action is not the service prefix plus the operation name.
RENAMED = {
    ("lambda", "Invoke"): "lambda:InvokeFunction",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "CopyObject"): "s3:PutObject",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "ListObjectVersions"): "s3:ListBucketVersions",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "CreateMultipartUpload"): "s3:PutObject",
    ("s3", "UploadPart"): "s3:PutObject",
    ("s3", "CompleteMultipartUpload"): "s3:PutObject",
    ("s3", "GetBucketEncryption"): "s3:GetEncryptionConfiguration",
    ("s3", "PutBucketEncryption"): "s3:PutEncryptionConfiguration",
    ("s3", "DeleteBucketEncryption"): "s3:PutEncryptionConfiguration",
    ("s3", "GetPublicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("s3", "PutPublicAccessBlock"): "s3:PutBucketPublicAccessBlock",
    ("s3", "DeletePublicAccessBlock"): "s3:PutBucketPublicAccessBlock",
    ("s3", "DeleteBucketPolicy"): "s3:DeleteBucketPolicy",
    ("s3", "GetBucketNotificationConfiguration"): "s3:GetBucketNotification",
    ("s3", "PutBucketNotificationConfiguration"): "s3:PutBucketNotification",
    ("firehose", "PutRecord"): "firehose:PutRecord",
    ("sagemaker-runtime", "InvokeEndpoint"): "sagemaker:InvokeEndpoint",
}
# Operations that support no resource-level permissions: AWS authorizes them on "*".
UNSCOPED = {
    "cloudwatch": {"PutMetricData", "GetMetricData", "GetMetricStatistics", "ListMetrics", "DescribeAlarms"},
    "sagemaker": {"ListModelPackages", "ListTrainingJobs", "ListEndpoints", "ListCompilationJobs", "Search"},
    "stepfunctions": {"ListStateMachines", "SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"},
    "sts": {"GetCallerIdentity"},
    "xray": {"PutTraceSegments", "PutTelemetryRecords", "GetSamplingRules", "GetSamplingTargets"},
    "kms": {"ListKeys", "ListAliases", "CreateKey"},
    "sqs": {"ListQueues"},
    "sns": {"ListTopics"},
    "events": {"ListRules"},
    "logs": {"DescribeLogGroups"},
    "s3": {"ListBuckets"},
    "dynamodb": {"ListTables"},
    "lambda": {"ListFunctions"},
    "iam": {"ListRoles"},
    "greengrassv2": {"ListCoreDevices", "ListDeployments", "ListComponents"},
    "iot": {"ListJobs", "ListThings", "ListThingGroups"},
    "cloudtrail": {"DescribeTrails", "ListTrails", "LookupEvents"},
    "application-autoscaling": {
        "DescribeScalableTargets",
        "DescribeScalingPolicies",
        "DescribeScalingActivities",
        "DescribeScheduledActions",
    },
}
# IoT operations whose only resource is the thing group, the job or the thing they name.
THING_GROUP_OPERATIONS = {"CreateThingGroup", "DescribeThingGroup", "UpdateThingGroup", "DeleteThingGroup"}
JOB_OPERATIONS = {"DescribeJob", "ListJobExecutionsForJob", "CancelJob", "UpdateJob", "DeleteJob", "GetJobDocument"}
THING_OPERATIONS = {"DescribeThing", "DescribeJobExecution", "ListJobExecutionsForThing"}
# Greengrass v2 operations on a component version (by its ARN), a component, a deployment or a core device.
GREENGRASS_RESOURCES = {
    "GetComponent": "arn",
    "DescribeComponent": "arn",
    "DeleteComponent": "arn",
    "ListComponentVersions": "arn",
    "GetDeployment": "deploymentId",
    "CancelDeployment": "deploymentId",
    "DeleteDeployment": "deploymentId",
    "GetCoreDevice": "coreDeviceThingName",
    "DeleteCoreDevice": "coreDeviceThingName",
    "ListInstalledComponents": "coreDeviceThingName",
    "ListEffectiveDeployments": "coreDeviceThingName",
}
ROLE_PASSING = {
    ("sagemaker", "CreateTrainingJob"): ("RoleArn", "sagemaker.amazonaws.com"),
    ("sagemaker", "CreateModel"): ("ExecutionRoleArn", "sagemaker.amazonaws.com"),
    ("sagemaker", "CreateCompilationJob"): ("RoleArn", "sagemaker.amazonaws.com"),
    ("scheduler", "CreateSchedule"): ("Target.RoleArn", "scheduler.amazonaws.com"),
    ("scheduler", "UpdateSchedule"): ("Target.RoleArn", "scheduler.amazonaws.com"),
    ("stepfunctions", "CreateStateMachine"): ("roleArn", "states.amazonaws.com"),
    ("lambda", "CreateFunction"): ("Role", "lambda.amazonaws.com"),
    ("cloudtrail", "CreateTrail"): ("CloudWatchLogsRoleArn", "cloudtrail.amazonaws.com"),
    ("cloudtrail", "UpdateTrail"): ("CloudWatchLogsRoleArn", "cloudtrail.amazonaws.com"),
}
# Application Auto Scaling creates the service-linked role of a namespace at its first registration,
# as the caller (iam:CreateServiceLinkedRole); only SageMaker's is modelled.
SERVICE_LINKED_ROLES = {
    "sagemaker": (
        "sagemaker.application-autoscaling.amazonaws.com",
        "aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
        "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
    )
}
# CloudTrail operations and the parameter that names their trail (by name or ARN).
TRAIL_PARAMETERS = ("Name", "TrailName", "ResourceId")


class UnmodelledOperationError(Exception):
    """The local cloud cannot tell which resource an operation acts on."""


class Actions:
    """Turns API requests into IAM checks, reading the emulation for what a request implies."""

    def __init__(self, account_id: str, region: str) -> None:
        self.account_id = account_id
        self.region = region
        self._resolvers: dict[str, Callable[[str, Mapping[str, Any]], list[Check]]] = {
            "s3": self._s3,
            "dynamodb": self._dynamodb,
            "lambda": self._lambda,
            "stepfunctions": self._states,
            "sagemaker": self._sagemaker,
            "sagemaker-runtime": self._sagemaker,
            "sns": self._sns,
            "sqs": self._sqs,
            "events": self._events,
            "kms": self._kms,
            "firehose": self._firehose,
            "logs": self._logs,
            "cloudwatch": self._cloudwatch,
            "scheduler": self._scheduler,
            "iam": self._iam,
            "sts": self._sts,
            "iot": self._iot,
            "greengrassv2": self._greengrass,
            "cloudtrail": self._cloudtrail,
            "securityhub": self._securityhub,
            "application-autoscaling": self._application_autoscaling,
        }

    def checks(self, service: str, operation: str, params: Mapping[str, Any]) -> list[Check]:
        """Every permission ``operation`` of ``service`` needs with ``params``."""
        action = action_name(service, operation)
        if operation in UNSCOPED.get(service, set()):
            found = [Check(action, "*", self._unscoped_context(service, params))]
        else:
            resolver = self._resolvers.get(service)
            if resolver is None:
                raise UnmodelledOperationError(
                    f"the local cloud has no resource model for {action}; add one in localcloud/iam/actions.py"
                )
            found = resolver(operation, params)
        passing = ROLE_PASSING.get((service, operation))
        if passing is not None:
            role = _path(params, passing[0])
            if role:
                found.append(Check("iam:PassRole", role, {"iam:PassedToService": passing[1]}))
        return found

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"

    @staticmethod
    def _unscoped_context(service: str, params: Mapping[str, Any]) -> dict[str, Any]:
        if service == "cloudwatch" and "Namespace" in params:
            return {"cloudwatch:namespace": params["Namespace"]}
        return {}

    # Services

    def _s3(self, operation: str, params: Mapping[str, Any]) -> list[Check]:
        bucket = params.get("Bucket", "")
        if not bucket:
            raise UnmodelledOperationError(f"s3:{operation} without a bucket; add it in localcloud/iam/actions.py")
        action = action_name("s3", operation)
        if "Key" not in params:
            return self._s3_bucket(bucket, operation, params)
        key = params["Key"]
        versioned = bool(params.get("VersionId"))
        if operation in {"GetObject", "HeadObject"}:
            found = [Check("s3:GetObjectVersion" if versioned else "s3:GetObject", _object(bucket, key))]
            if operation == "GetObject":
                found += self._s3_key_use(bucket, key, "kms:Decrypt")
            return found
        if operation == "DeleteObject":
            return [Check("s3:DeleteObjectVersion" if versioned else "s3:DeleteObject", _object(bucket, key))]
        context = {"s3:x-amz-acl": params["ACL"]} if params.get("ACL") else {}
        found = [Check(action, _object(bucket, key), context)]
        if operation in {"PutObject", "CreateMultipartUpload", "CopyObject"}:
            found += self._s3_key_use(bucket, key, "kms:GenerateDataKey", params)
        if operation == "CopyObject":
            found += self._s3_copy_source(params["CopySource"])
        return found

    @staticmethod
    def _s3_bucket(bucket: str, operation: str, params: Mapping[str, Any]) -> list[Check]:
        """Operations on a bucket, or on several of its objects at once."""
        if operation == "DeleteObjects":
            return [
                Check("s3:DeleteObjectVersion" if o.get("VersionId") else "s3:DeleteObject", _object(bucket, o["Key"]))
                for o in params.get("Delete", {}).get("Objects", [])
            ]
        context = {"s3:prefix": params.get("Prefix", "")} if operation.startswith("ListObject") else {}
        return [Check(action_name("s3", operation), f"arn:aws:s3:::{bucket}", context)]

    def _s3_copy_source(self, source: str | Mapping[str, str]) -> list[Check]:
        """Reading the source of a CopyObject."""
        if isinstance(source, str):
            bucket, _, rest = source.lstrip("/").partition("/")
            key, _, version = rest.partition("?versionId=")
        else:
            bucket, key, version = source["Bucket"], source["Key"], source.get("VersionId", "")
        read = Check("s3:GetObjectVersion" if version else "s3:GetObject", _object(bucket, key))
        return [read, *self._s3_key_use(bucket, key, "kms:Decrypt")]

    def _s3_key_use(self, bucket: str, key: str, action: str, params: Mapping[str, Any] | None = None) -> list[Check]:
        """The KMS use that reading or writing an SSE-KMS object implies for the caller."""
        key_id = None
        if params and params.get("ServerSideEncryption") == "aws:kms":
            key_id = params.get("SSEKMSKeyId") or "alias/aws/s3"
        backend = s3_backends[self.account_id]["aws"]
        stored = backend.buckets.get(bucket)
        if stored is None:
            return []
        if key_id is None and action == "kms:Decrypt":
            found = stored.keys.get(key)
            if found is not None and getattr(found, "encryption", None) == "aws:kms":
                key_id = found.kms_key_id
            elif found is not None and getattr(found, "encryption", None) not in {None, "aws:kms"}:
                return []
        if key_id is None:
            key_id = _bucket_kms_key(stored)
        if key_id is None or key_id.startswith("alias/aws/"):
            # An AWS managed key's policy lets every principal of the account use it through S3.
            return []
        context = {
            "kms:ViaService": f"s3.{self.region}.amazonaws.com",
            "kms:EncryptionContext:aws:s3:arn": f"arn:aws:s3:::{bucket}",
        }
        return [Check(action, self.key_arn(key_id), context)]

    def _dynamodb(self, operation: str, params: Mapping[str, Any]) -> list[Check]:
        if operation in {"TransactWriteItems", "TransactGetItems"}:
            found = []
            for item in params.get("TransactItems", []):
                ((kind, request),) = item.items()
                action = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "Get": "GetItem"}.get(
                    kind, "ConditionCheckItem"
                )
                found += self._table(f"dynamodb:{action}", request["TableName"], request=request)
            return found
        if operation in {"BatchGetItem", "BatchWriteItem"}:
            # Each is an IAM action of its own (not GetItem, PutItem or DeleteItem), on each table it names
            found = []
            for table in params.get("RequestItems", {}):
                found += self._table(f"dynamodb:{operation}", table)
            return found
        table = params.get("TableName")
        if not table:
            raise UnmodelledOperationError(
                f"dynamodb:{operation} without a TableName; add it in localcloud/iam/actions.py"
            )
        return self._table(f"dynamodb:{operation}", table, params.get("IndexName"), request=params)

    def _table(
        self, action: str, table: str, index: str | None = None, request: Mapping[str, Any] | None = None
    ) -> list[Check]:
        name = table.rsplit("/", 1)[-1]
        resource = self._arn("dynamodb", f"table/{name}" + (f"/index/{index}" if index else ""))
        stored = dynamodb_backends[self.account_id][self.region].tables.get(name)
        leading = _leading_keys(stored, request or {})
        found = [Check(action, resource, {"dynamodb:LeadingKeys": leading} if leading is not None else {})]
        sse = (getattr(stored, "sse_specification", None) or {}) if stored is not None else {}
        data_plane = action.removeprefix("dynamodb:") in {
            "GetItem",
            "PutItem",
            "UpdateItem",
            "DeleteItem",
            "Query",
            "Scan",
            "ConditionCheckItem",
        }
        if data_plane and sse.get("Enabled") and sse.get("KMSMasterKeyId"):
            context = {"kms:ViaService": f"dynamodb.{self.region}.amazonaws.com"}
            found.append(Check("kms:Decrypt", self.key_arn(sse["KMSMasterKeyId"]), context))
        return found

    def _lambda(self, operation: str, params: Mapping[str, Any]) -> list[Check]:
        name = params.get("FunctionName")
        if not name:
            raise UnmodelledOperationError(
                f"lambda:{operation} without a FunctionName; add it in localcloud/iam/actions.py"
            )
        if not name.startswith("arn:"):
            name = self._arn("lambda", f"function:{name}")
        qualifier = params.get("Qualifier")
        return [Check(action_name("lambda", operation), name + (f":{qualifier}" if qualifier else ""))]

    def _states(self, operation: str, params: Mapping[str, Any]) -> list[Check]:
        arn = params.get("stateMachineArn") or params.get("executionArn")
        if not arn:
            raise UnmodelledOperationError(f"states:{operation} without an ARN; add it in localcloud/iam/actions.py")
        return [Check(f"states:{operation}", arn)]

    def _sagemaker(self, operation: str, params: Mapping[str, Any]) -> list[Check]:
        names = {
            "TrainingJobName": "training-job",
            "ModelName": "model",
            "EndpointConfigName": "endpoint-config",
            "EndpointName": "endpoint",
            "CompilationJobName": "compilation-job",
            "ModelPackageGroupName": "model-package-group",
        }
        action = action_name("sagemaker", operation)
        package = params.get("ModelPackageName") or params.get("ModelPackageArn")
        if package:
            if package.startswith("arn:"):
                return [Check(action, package)]
            return [Check(action, self._arn("sagemaker", f"model-package/{package.lower()}"))]
        if operation == "UpdateEndpoint":
            # Switching an endpoint to a configuration acts on both.
            return [
                Check(action, self._arn("sagemaker", f"endpoint/{params['EndpointName'].lower()}")),
                Check(action, self._arn("sagemaker", f"endpoint-config/{params['EndpointConfigName'].lower()}")),
            ]
        for parameter, kind in names.items():
            if parameter in params:
                return [Check(action, self._arn("sagemaker", f"{kind}/{params[parameter].lower()}"))]
        raise UnmodelledOperationError(f"{action}: no resource model; add one in localcloud/iam/actions.py")

    def _sns(self, operation: str, params: Mapping[str, Any]) -> list[Check]:
        topic = params.get("TopicArn") or params.get("TargetArn")
        if not topic:
            raise UnmodelledOperationError(f"sns:{operation} without a TopicArn; add it in localcloud/iam/actions.py")
        found = [Check(f"sns:{operation}", topic)]
        stored = sns_backends[self.account_id][self.region].topics.get(topic)
        if operation == "Publish" and stored is not None and stored.kms_master_key_id:
            context = {"kms:ViaService": f"sns.{self.region}.amazonaws.com"}
            found += [
                Check(a, self.key_arn(stored.kms_master_key_id), context)
                for a in ("kms:GenerateDataKey", "kms:Decrypt")
            ]
        return found

    def _sqs(self, operation: str, params: Mapping[str, Any]) -> list[Check]:
        if operation in {"GetQueueUrl", "CreateQueue"}:
            return [Check(f"sqs:{operation}", self._arn("sqs", params["QueueName"]))]
        url = params.get("QueueUrl")
        if not url:
            raise UnmodelledOperationError(f"sqs:{operation} without a QueueUrl; add it in localcloud/iam/actions.py")
        name = url.rstrip("/").rsplit("/", 1)[-1]
        action = "sqs:SendMessage" if operation == "SendMessageBatch" else f"sqs:{operation}"
        found = [Check(action, self._arn("sqs", name))]
        stored = sqs_backends[self.account_id][self.region].queues.get(name)
        key = getattr(stored, "kms_master_key_id", None) if stored is not None else None
        if key:
            context = {"kms:ViaService": f"sqs.{self.region}.amazonaws.com"}
            uses = {"sqs:SendMessage": ("kms:GenerateDataKey", "kms:Decrypt"), "sqs:ReceiveMessage": ("kms:Decrypt",)}
            found += [Check(a, self.key_arn(key), context) for a in uses.get(action, ())]
        return found

    def _events(self, operation: str, params: Mapping[str, Any]) -> list[Check]:
        if operation == "PutEvents":
            buses = {entry.get("EventBusName") or "default" for entry in params.get("Entries", [])}
            return [Check("events:PutEvents", self._bus(bus)) for bus in sorted(buses)]
        if "Name" in params or "Rule" in params:
            rule = params.get("Name") or params.get("Rule")
            bus = params.get("EventBusName") or "default"
            path = f"rule/{rule}" if bus == "default" else f"rule/{bus}/{rule}"
            found = [Check(f"events:{operation}", self._arn("events", path))]
            for target in params.get("Targets", []):
                if target.get("RoleArn"):
                    found.append(
                        Check("iam:PassRole", target["RoleArn"], {"iam:PassedToService": "events.amazonaws.com"})
                    )
            return found
        raise UnmodelledOperationError(f"events:{operation}: no resource model; add one in localcloud/iam/actions.py")

    def _bus(self, bus: str) -> str:
        return bus if bus.startswith("arn:") else self._arn("events", f"event-bus/{bus}")

    def _kms(self, operation: str, params: Mapping[str, Any]) -> list[Check]:
        key = params.get("KeyId") or params.get("TargetKeyId")
        if not key:
            raise UnmodelledOperationError(f"kms:{operation} without a KeyId; add it in localcloud/iam/actions.py")
        return [Check(f"kms:{operation}", self.key_arn(key))]

    def key_arn(self, key: str) -> str:
        """The ARN of a KMS key named by ARN, id, alias name or alias ARN."""
        backend = kms_backends[self.account_id][self.region]
        try:
            key_id = backend.any_id_to_key_id(key)
        except Exception:  # an alias that does not exist: AWS reports NotFound on the call itself
            key_id = key
        return self._arn("kms", f"key/{key_id}")

    def _firehose(self, operation: str, params: Mapping[str, Any]) -> list[Check]:
        stream = params.get("DeliveryStreamName")
        if not stream:
            raise UnmodelledOperationError(
                f"firehose:{operation}: no resource model; add one in localcloud/iam/actions.py"
            )
        return [Check(action_name("firehose", operation), self._arn("firehose", f"deliverystream/{stream}"))]

    def _logs(self, operation: str, params: Mapping[str, Any]) -> list[Check]:
        group = params.get("logGroupName")
        if not group:
            raise UnmodelledOperationError(f"logs:{operation}: no resource model; add one in localcloud/iam/actions.py")
        stream = params.get("logStreamName")
        resource = f"log-group:{group}" + (f":log-stream:{stream}" if stream else ":*")
        return [Check(f"logs:{operation}", self._arn("logs", resource))]

    def _cloudwatch(self, operation: str, params: Mapping[str, Any]) -> list[Check]:
        names = params.get("AlarmNames") or ([params["AlarmName"]] if "AlarmName" in params else [])
        if not names:
            raise UnmodelledOperationError(
                f"cloudwatch:{operation}: no resource model; add one in localcloud/iam/actions.py"
            )
        return [Check(f"cloudwatch:{operation}", self._arn("cloudwatch", f"alarm:{name}")) for name in names]

    def _scheduler(self, operation: str, params: Mapping[str, Any]) -> list[Check]:
        group = params.get("GroupName") or "default"
        name = params.get("Name")
        resource = f"schedule/{group}/{name}" if name else f"schedule-group/{group}"
        return [Check(f"scheduler:{operation}", self._arn("scheduler", resource))]

    def _iam(self, operation: str, params: Mapping[str, Any]) -> list[Check]:
        if operation == "CreateServiceLinkedRole" and "AWSServiceName" in params:
            return [self._service_linked_role(params["AWSServiceName"])]
        if "RoleName" in params:
            return [Check(f"iam:{operation}", self._entity_arn("role", params["RoleName"]))]
        if "UserName" in params:
            return [Check(f"iam:{operation}", self._entity_arn("user", params["UserName"]))]
        if "PolicyArn" in params:
            return [Check(f"iam:{operation}", params["PolicyArn"])]
        raise UnmodelledOperationError(f"iam:{operation}: no resource model; add one in localcloud/iam/actions.py")

    def _service_linked_role(self, service: str) -> Check:
        """CreateServiceLinkedRole, on the role it creates, with ``iam:AWSServiceName``."""
        path = next((role for name, role in SERVICE_LINKED_ROLES.values() if name == service), None)
        resource = f"aws-service-role/{service}/*" if path is None else path
        return Check(
            "iam:CreateServiceLinkedRole",
            f"arn:aws:iam::{self.account_id}:role/{resource}",
            {"iam:AWSServiceName": service},
        )

    def _application_autoscaling(self, operation: str, params: Mapping[str, Any]) -> list[Check]:
        """Scalable targets, by their ARN (an opaque id AWS assigns at registration: ``scalable-target/*``
        before it), with the namespace and dimension as condition keys."""
        namespace, dimension = params.get("ServiceNamespace"), params.get("ScalableDimension")
        if not namespace or not dimension or "ResourceId" not in params:
            raise UnmodelledOperationError(
                f"application-autoscaling:{operation}: no resource model; add one in localcloud/iam/actions.py"
            )
        backend = applicationautoscaling_backends[self.account_id][self.region]
        target = backend.targets.get(dimension, {}).get(params["ResourceId"])
        resource = target.arn if target is not None else self._arn("application-autoscaling", "scalable-target/*")
        context = {
            "application-autoscaling:service-namespace": namespace,
            "application-autoscaling:scalable-dimension": dimension,
        }
        found = [Check(f"application-autoscaling:{operation}", resource, context)]
        linked = SERVICE_LINKED_ROLES.get(namespace)
        if operation == "RegisterScalableTarget" and linked is not None:
            # Never created here, so every registration needs the permission AWS asks for on the first.
            found.append(self._service_linked_role(linked[0]))
        return found

    def _entity_arn(self, kind: str, name: str) -> str:
        """The ARN of the role or user ``name``, with its path (``role/conveyor/dev/Name``)."""
        backend = iam_backends[self.account_id]["global"]
        entities = backend.roles.values() if kind == "role" else backend.users.values()
        path = next((e.path for e in entities if e.name == name), "/")
        return f"arn:aws:iam::{self.account_id}:{kind}{path}{name}"

    def _iot(self, operation: str, params: Mapping[str, Any]) -> list[Check]:
        action = f"iot:{operation}"
        if operation in THING_GROUP_OPERATIONS and params.get("thingGroupName"):
            return [Check(action, self._arn("iot", f"thinggroup/{params['thingGroupName']}"))]
        if operation in JOB_OPERATIONS and params.get("jobId"):
            return [Check(action, self._arn("iot", f"job/{params['jobId']}"))]
        if operation in THING_OPERATIONS and params.get("thingName"):
            return [Check(action, self._arn("iot", f"thing/{params['thingName']}"))]
        if operation == "CancelJobExecution":
            job, thing = self._arn("iot", f"job/{params['jobId']}"), self._arn("iot", f"thing/{params['thingName']}")
            return [Check(action, job), Check(action, thing)]
        raise UnmodelledOperationError(f"{action}: no resource model; add one in localcloud/iam/actions.py")

    def _greengrass(self, operation: str, params: Mapping[str, Any]) -> list[Check]:
        action = action_name("greengrassv2", operation)
        if operation == "CreateDeployment":
            # Greengrass creates the deployment's IoT job for the caller, who needs that permission too.
            target = str(params.get("targetArn", ""))
            describe = "iot:DescribeThingGroup" if ":thinggroup/" in target else "iot:DescribeThing"
            return [Check(action, "*"), Check("iot:CreateJob", target), Check(describe, target)]
        if operation == "CreateComponentVersion":
            name = _recipe_component_name(params.get("inlineRecipe", b""))
            return [Check(action, self._arn("greengrass", f"components:{name}"))]
        parameter = GREENGRASS_RESOURCES.get(operation)
        if parameter is None or not params.get(parameter):
            raise UnmodelledOperationError(f"{action}: no resource model; add one in localcloud/iam/actions.py")
        value = str(params[parameter])
        if parameter == "deploymentId":
            return [Check(action, self._arn("greengrass", f"deployments:{value}"))]
        if parameter == "coreDeviceThingName":
            return [Check(action, self._arn("greengrass", f"coreDevices:{value}"))]
        return [Check(action, value)]

    def _cloudtrail(self, operation: str, params: Mapping[str, Any]) -> list[Check]:
        names = [params[p] for p in TRAIL_PARAMETERS if isinstance(params.get(p), str)]
        names += list(params.get("ResourceIdList", []))
        if not names:
            raise UnmodelledOperationError(
                f"cloudtrail:{operation}: no resource model; add one in localcloud/iam/actions.py"
            )
        return [Check(f"cloudtrail:{operation}", self.trail_arn(name)) for name in names]

    def trail_arn(self, name: str) -> str:
        """The ARN of a CloudTrail trail named by name or ARN."""
        return name if name.startswith("arn:") else self._arn("cloudtrail", f"trail/{name}")

    def _securityhub(self, operation: str, params: Mapping[str, Any]) -> list[Check]:
        if operation == "BatchImportFindings":
            default = self._arn("securityhub", f"product/{self.account_id}/default")
            products = sorted({f.get("ProductArn") or default for f in params.get("Findings", [])} or {default})
            return [Check("securityhub:BatchImportFindings", product) for product in products]
        # Every other operation acts on the account's hub.
        return [Check(f"securityhub:{operation}", self._arn("securityhub", "hub/default"))]

    def _sts(self, operation: str, params: Mapping[str, Any]) -> list[Check]:
        if operation == "AssumeRole":
            return [Check("sts:AssumeRole", params["RoleArn"])]
        raise UnmodelledOperationError(f"sts:{operation}: no resource model; add one in localcloud/iam/actions.py")


def _leading_keys(table: Any, request: Mapping[str, Any]) -> list[str] | None:
    """The partition key values a DynamoDB request touches (``dynamodb:LeadingKeys``)."""
    hash_key = getattr(table, "hash_key_attr", None)
    if hash_key is None:
        return None
    for element in ("Key", "Item"):
        if element in request:
            return [str(next(iter(request[element][hash_key].values())))] if hash_key in request[element] else []
    expression = request.get("KeyConditionExpression")
    if expression:
        names = {v: k for k, v in request.get("ExpressionAttributeNames", {}).items()}
        for alias in (names.get(hash_key), hash_key):
            match = re.search(rf"(?<![\w#]){re.escape(alias)}\s*=\s*(:\w+)", expression) if alias else None
            if match:
                value = request.get("ExpressionAttributeValues", {}).get(match.group(1), {})
                return [str(next(iter(value.values())))] if value else []
    return None


def _recipe_component_name(inline_recipe: bytes | str) -> str:
    """The ComponentName of an inline recipe (JSON or YAML), or ``*`` when it has none to read."""
    try:
        recipe = yaml.safe_load(inline_recipe)  # JSON is YAML
    except yaml.YAMLError:
        return "*"
    return str(recipe.get("ComponentName") or "*") if isinstance(recipe, dict) else "*"


def action_name(service: str, operation: str) -> str:
    """The IAM action of an API operation."""
    return RENAMED.get((service, operation)) or f"{PREFIXES.get(service, service)}:{operation}"


def _object(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def _path(params: Mapping[str, Any], dotted: str) -> str | None:
    value: Any = params
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value if isinstance(value, str) else None


def _bucket_kms_key(bucket: Any) -> str | None:
    """The KMS key a bucket encrypts new objects with by default, if it uses SSE-KMS."""
    rules = (bucket.encryption or {}).get("Rule") or []
    for rule in rules if isinstance(rules, list) else [rules]:
        default = rule.get("ApplyServerSideEncryptionByDefault") or {}
        if default.get("SSEAlgorithm") in {"aws:kms", "aws:kms:dsse"}:
            return str(default.get("KMSMasterKeyID") or "alias/aws/s3")
    return None
