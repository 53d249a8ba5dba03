"""Endpoints deploy on stack time: Creating or Updating, then InService (or Failed, or rolled back).

CreateEndpoint and UpdateEndpoint start a deployment that completes ``deploy_seconds`` of stack
time later. The first call that looks at the endpoint after that (describe, list, invoke,
update) completes it, so what an endpoint does is a function of stack time alone, with no
ticker. Completing a deployment loads each variant's model (:class:`ModelStore`); a model that
cannot be loaded fails the creation, or leaves an updated endpoint on its old configuration,
with the reason in FailureReason. An update the tests made fail (``cloud.endpoint_faults``)
returns to the old configuration with no reason, as SageMaker's silent rollback does.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from moto.applicationautoscaling.models import applicationautoscaling_backends
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeEndpoint, FakeEndpointConfig, SageMakerModelBackend

from localcloud.hosting.container import ModelLoadError
from localcloud.hosting.endpoints import (
    DATA_CAPTURE_CONFIG,
    Deployment,
    HostedEndpoint,
    Variant,
    capture_of,
    publish,
    resolved_variants,
)
from localcloud.hosting.models import ModelStore

if TYPE_CHECKING:
    from localcloud.hosting.host import Host

# By default a deployment completes at the next describe: a workflow polling an endpoint waits
# in compressed time (its Retry or Wait), which does not move stack time, so a deployment timed in
# stack time would never complete for it. Tests of the Creating and Updating states set a duration
# (``cloud.hosting.deploy_seconds``) and advance the clock through it.
DEFAULT_DEPLOY_SECONDS = 0.0
SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
IN_PROGRESS = ("Creating", "Updating")


class Deployments:
    """Every endpoint's deployments, by endpoint ARN."""

    def __init__(self, cloud: Host, *, deploy_seconds: float = DEFAULT_DEPLOY_SECONDS) -> None:
        self._cloud = cloud
        self.deploy_seconds = deploy_seconds
        self.models = ModelStore(cloud)
        self._endpoints: dict[str, HostedEndpoint] = {}
        self._lock = threading.RLock()

    def serving(self, backend: SageMakerModelBackend, endpoint_name: str) -> HostedEndpoint | None:
        """The endpoint ``endpoint_name`` if it serves (InService, or Updating on its old configuration)."""
        with self._lock:
            self.settle(backend)
            arn = FakeEndpoint.arn_formatter(endpoint_name, backend.account_id, backend.region_name)
            hosted = self._endpoints.get(arn)
            return hosted if hosted is not None and hosted.serving is not None else None

    def create(self, endpoint: FakeEndpoint, config: FakeEndpointConfig) -> None:
        """Start deploying a new endpoint: it is Creating until ``deploy_seconds`` have passed."""
        now = self._cloud.clock.now()
        deployment = Deployment(
            config_name=config.endpoint_config_name,
            variants=tuple(Variant.from_config(v) for v in config.production_variants),
            capture=capture_of(config.data_capture_config),
            started=now,
            ready_at=now + timedelta(seconds=self.deploy_seconds),
        )
        hosted = HostedEndpoint(endpoint.endpoint_name, endpoint.arn, pending=deployment, last_modified=now)
        with self._lock:
            self._endpoints[endpoint.arn] = hosted
            publish(endpoint, hosted)

    def update(
        self,
        backend: SageMakerModelBackend,
        endpoint_name: str,
        config_name: str,
        *,
        retain: bool = False,
        excluded: Iterable[str] = (),
    ) -> str:
        """Start deploying ``config_name`` to a running endpoint, as UpdateEndpoint; return its ARN."""
        now = self._cloud.clock.now()
        with self._lock:
            self.settle(backend)
            endpoint, hosted = self._endpoint(backend, endpoint_name)
            config = backend.endpoint_configs.get(config_name)
            if config is None:
                arn = FakeEndpointConfig.arn_formatter(config_name, backend.account_id, backend.region_name)
                raise ValidationError(message=f"Could not find endpoint configuration '{arn}'.")
            if hosted.status in IN_PROGRESS:
                raise ValidationError(message=f'Cannot update in-progress endpoint "{hosted.arn}".')
            _refuse_scaled_variant_changes(backend, hosted, config.production_variants)
            excluded = set(excluded)
            retained = hosted.serving if retain else None
            kept_capture = retained is not None and DATA_CAPTURE_CONFIG not in excluded
            fails = self._cloud.endpoint_faults.fail_next_update
            hosted.pending = Deployment(
                config_name=config_name,
                variants=resolved_variants(
                    hosted.serving, config.production_variants, retain=retain, excluded=excluded
                ),
                capture=retained.capture if kept_capture and retained else capture_of(config.data_capture_config),
                started=now,
                ready_at=now + timedelta(seconds=self.deploy_seconds),
                rolls_back=endpoint_name in fails,
            )
            fails.discard(endpoint_name)
            hosted.status, hosted.failure_reason, hosted.last_modified = "Updating", None, now
            publish(endpoint, hosted)
            return hosted.arn

    def update_weights(self, backend: SageMakerModelBackend, endpoint_name: str, desired: list[dict[str, Any]]) -> str:
        """Apply UpdateEndpointWeightsAndCapacities: each given DesiredWeight and DesiredInstanceCount
        routes requests at once; what is not given stays. As on AWS the endpoint is Updating until
        the change completes (``deploy_seconds``), and refuses another update meanwhile. Return the
        endpoint's ARN."""
        with self._lock:
            self.settle(backend)
            endpoint, hosted = self._endpoint(backend, endpoint_name)
            if hosted.status in IN_PROGRESS or hosted.serving is None:
                raise ValidationError(message=f'Cannot update in-progress endpoint "{hosted.arn}".')
            serving = hosted.serving
            names = [entry.get("VariantName") for entry in desired]
            for name in names:
                if names.count(name) > 1:
                    raise ValidationError(message=f'The variant name "{name}" was non-unique within the request.')
                if serving.variant(str(name)) is None:
                    raise ValidationError(
                        message=f'The variant name(s) "{name}" is/are not present within endpoint configuration '
                        f'"{serving.config_name}".'
                    )
            for entry in desired:
                variant = serving.variant(entry["VariantName"])
                assert variant is not None  # checked above
                if entry.get("DesiredWeight") is not None:
                    variant = replace(variant, weight=float(entry["DesiredWeight"]))
                if entry.get("DesiredInstanceCount") is not None:
                    variant = replace(variant, instance_count=int(entry["DesiredInstanceCount"]))
                serving = serving.with_variant(variant)
            now = self._cloud.clock.now()
            hosted.serving, hosted.last_modified = serving, now
            hosted.pending = replace(serving, started=now, ready_at=now + timedelta(seconds=self.deploy_seconds))
            hosted.status = "Updating"
            publish(endpoint, hosted)
            return hosted.arn

    def delete(self, endpoint_arn: str) -> None:
        with self._lock:
            self._endpoints.pop(endpoint_arn, None)

    def settle(self, backend: SageMakerModelBackend) -> None:
        """Complete every deployment that is due at stack time now."""
        now = self._cloud.clock.now()
        with self._lock:
            for hosted in list(self._endpoints.values()):
                pending = hosted.pending
                if pending is None or now < pending.ready_at:
                    continue
                self._complete(backend, hosted, pending)
                endpoint = backend.endpoints.get(hosted.name)
                if endpoint is not None:
                    publish(endpoint, hosted)

    def _complete(self, backend: SageMakerModelBackend, hosted: HostedEndpoint, pending: Deployment) -> None:
        hosted.pending, hosted.last_modified = None, pending.ready_at
        if pending.rolls_back:
            hosted.status, hosted.failure_reason = "InService", None
            return
        try:
            models = {v.name: self.models.load(backend, v.model_name, hosted.arn) for v in pending.variants}
        except ModelLoadError as error:
            hosted.status = "InService" if hosted.serving is not None else "Failed"
            hosted.failure_reason = str(error)
            return
        hosted.serving, hosted.models = pending, models
        hosted.status, hosted.failure_reason = "InService", None

    def _endpoint(self, backend: SageMakerModelBackend, name: str) -> tuple[FakeEndpoint, HostedEndpoint]:
        endpoint = backend.endpoints.get(name)
        hosted = self._endpoints.get(endpoint.arn) if endpoint is not None else None
        if endpoint is None or hosted is None:
            arn = FakeEndpoint.arn_formatter(name, backend.account_id, backend.region_name)
            raise ValidationError(message=f"Could not find endpoint '{arn}'.")
        return endpoint, hosted


def _refuse_scaled_variant_changes(
    backend: SageMakerModelBackend, hosted: HostedEndpoint, configured: list[dict[str, Any]]
) -> None:
    """Application Auto Scaling blocks an update that removes a variant it scales or changes that
    variant's instance type (a new model is allowed); the scalable target must be deregistered first."""
    if hosted.serving is None:
        return
    scaling = applicationautoscaling_backends[backend.account_id][backend.region_name]
    targets = scaling.targets.get(SCALABLE_DIMENSION, {})
    new = {v["VariantName"]: v for v in configured}
    blocked = [
        variant.name
        for variant in hosted.serving.variants
        if f"endpoint/{hosted.name}/variant/{variant.name}" in targets
        and (variant.name not in new or new[variant.name].get("InstanceType") != variant.instance_type)
    ]
    if blocked:
        raise ValidationError(
            message=f'The variant(s) "{blocked}" of endpoint "{hosted.arn}" are registered as scalable targets '
            "with Application Auto Scaling, and this update removes them or changes their instance type. "
            "Deregister the scalable targets (DeregisterScalableTarget) before updating the endpoint."
        )
