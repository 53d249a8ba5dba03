"""Gap: moto's Model Registry announces no approval, and keeps approvals as SageMaker does not.

SageMaker sends a "SageMaker Model Package State Change" event (source ``aws.sagemaker``) to the
default bus when a model package is created in a group, and when its approval status changes;
moto sends none. Moto's CreateModelPackage in a group without ``ModelApprovalStatus`` leaves the
version with no status, where SageMaker makes it ``PendingManualApproval``; its
UpdateModelPackage erases the approval status, the approval description and the customer
metadata properties that the request leaves out, where SageMaker changes only what it is given.

Fix: the backend's CreateModelPackage and UpdateModelPackage (which the SDK's requests and Step
Functions' ``aws-sdk:sagemaker`` tasks both reach) do as SageMaker does, and each creation of a
versioned package, and each update that changes its ``ModelApprovalStatus``, puts the event the
developer guide documents ("Events that Amazon SageMaker AI sends to Amazon EventBridge", model
package state change) on the default bus, describing the package as it is at that moment. An
update that leaves the status as it was (a new approval description alone, or the same status
again) sends none: the guide documents the event as a change in the status of a package and says
nothing of other updates. The guide also says SageMaker "may send multiple events to EventBridge
for each state change": each event is one delivery on its group's channel of the cloud's
deliveries (:mod:`localcloud.delivery`), so in the at-least-once mode an event may arrive twice,
or after the event of a later change. Packages outside a group (AWS Marketplace's) get no
default status and send no event.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any
from unittest import mock

from moto.sagemaker.models import ModelPackage, SageMakerModelBackend

from localcloud.delivery import channel

if TYPE_CHECKING:
    from localcloud.interface import Cloud

SOURCE = "aws.sagemaker"
DETAIL_TYPE = "SageMaker Model Package State Change"
PENDING_MANUAL_APPROVAL = "PendingManualApproval"


def _timestamp(moment: datetime) -> str:
    """A time as the documented event writes it: UTC, to the second (moto keeps UTC without a zone)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def state_change_event(package: ModelPackage, now: datetime) -> dict[str, Any]:
    """The PutEvents entry SageMaker sends for the versioned ``package``, as it is at ``now``."""
    detail = {
        "ModelPackageGroupName": package.model_package_group_name,
        "ModelPackageVersion": package.model_package_version,
        "ModelPackageArn": package.arn,
        # A versioned package's name is "group/version" (DescribeModelPackage's ModelPackageName).
        "ModelPackageName": f"{package.model_package_group_name}/{package.model_package_version}",
        "ModelPackageDescription": package.model_package_description,
        "CreationTime": _timestamp(package.creation_time),
        "InferenceSpecification": package.inference_specification,
        "ModelPackageStatus": package.model_package_status,
        "ModelPackageStatusDetails": package.model_package_status_details,
        "CertifyForMarketplace": bool(package.certify_for_marketplace),
        "ModelApprovalStatus": package.model_approval_status,
        "ApprovalDescription": package.approval_description,
        "MetadataProperties": package.metadata_properties,
        "ModelMetrics": package.model_metrics,
        "LastModifiedTime": _timestamp(package.last_modified_time or package.creation_time),
    }
    return {
        "Source": SOURCE,
        "DetailType": DETAIL_TYPE,
        "Resources": [package.arn],
        "Time": now,
        # Serialized now: a late delivery must not describe a later state of the package.
        "Detail": json.dumps({key: value for key, value in detail.items() if value is not None}),
    }


def _package(backend: SageMakerModelBackend, name_or_arn: str) -> ModelPackage | None:
    package: ModelPackage | None = backend.model_packages.get(
        backend.model_package_name_mapping.get(name_or_arn, name_or_arn)
    )
    return package


def _announcing(cloud: Cloud) -> Callable[[ModelPackage], None]:
    def announce(package: ModelPackage) -> None:
        entry = state_change_event(package, cloud.clock.now())
        name = channel(cloud.physical_ids, "sagemaker", str(package.model_package_group_name))
        cloud.deliveries.deliver(name, lambda: cloud.client("events").put_events(Entries=[entry]))

    return announce


def _creating(announce: Callable[[ModelPackage], None], original: Callable[..., str]) -> Callable[..., str]:
    def create_model_package(backend: SageMakerModelBackend, **arguments: Any) -> str:
        versioned = bool(arguments.get("model_package_group_name"))
        if versioned and arguments.get("model_approval_status") is None:
            arguments["model_approval_status"] = PENDING_MANUAL_APPROVAL
        arn = original(backend, **arguments)
        package = _package(backend, arn)
        if versioned and package is not None:
            announce(package)
        return arn

    return create_model_package


def _updating(announce: Callable[[ModelPackage], None], original: Callable[..., str]) -> Callable[..., str]:
    def update_model_package(backend: SageMakerModelBackend, **arguments: Any) -> str:
        package = _package(backend, arguments["model_package_arn"])
        if package is None:
            return original(backend, **arguments)  # which refuses it, as SageMaker does
        previous = package.model_approval_status
        kept = {
            "model_approval_status": previous,
            "approval_description": package.approval_description,
            "customer_metadata_properties": package.customer_metadata_properties,
        }
        for name, value in kept.items():
            if arguments.get(name) is None:
                arguments[name] = value
        arn = original(backend, **arguments)
        if package.model_package_version and package.model_approval_status != previous:
            announce(package)
        return arn

    return update_model_package


@contextmanager
def sagemaker_registry(cloud: Cloud) -> Iterator[None]:
    announce = _announcing(cloud)
    create = _creating(announce, SageMakerModelBackend.create_model_package)
    update = _updating(announce, SageMakerModelBackend.update_model_package)
    with (
        mock.patch.object(SageMakerModelBackend, "create_model_package", create),
        mock.patch.object(SageMakerModelBackend, "update_model_package", update),
    ):
        yield
