"""The models endpoints serve, loaded once each from their artifacts, as their execution roles."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError
from moto.core.exceptions import ServiceException
from moto.sagemaker.models import SageMakerModelBackend

from conveyor.aws import split_s3_uri
from localcloud.hosting.container import ModelLoadError, load_model
from localcloud.hosting.endpoints import LoadedModel
from localcloud.iam import DeniedError

if TYPE_CHECKING:
    from localcloud.hosting.host import Host


class ModelStore:
    """Loads a SageMaker model's ``model.tar.gz`` from its ModelDataUrl, reading it as the model's
    ExecutionRoleArn (assumed by SageMaker for the endpoint), and keeps it: once per model."""

    def __init__(self, cloud: Host) -> None:
        self._cloud = cloud
        self._loaded: dict[tuple[str, str], LoadedModel] = {}
        self._lock = threading.Lock()

    def load(self, backend: SageMakerModelBackend, model_name: str, endpoint_arn: str) -> LoadedModel:
        """The model ``model_name``, for the endpoint ``endpoint_arn``; or :class:`ModelLoadError`."""
        model = backend._models.get(model_name)
        if model is None:
            arn = f"arn:aws:sagemaker:{backend.region_name}:{backend.account_id}:model/{model_name.lower()}"
            raise ModelLoadError(f"Could not find model '{arn}'.")
        container = model.primary_container or (model.containers[0] if model.containers else {})
        url = container.get("ModelDataUrl")
        if not url:
            raise ModelLoadError(f"Model '{model_name}' has no ModelDataUrl; the local cloud serves model artifacts.")
        with self._lock:
            cached = self._loaded.get((model.arn, url))
        if cached is not None:
            return cached
        bucket, key = split_s3_uri(url)
        try:
            s3 = self._cloud.client(
                "s3", principal=model.execution_role_arn, assumed_by="sagemaker.amazonaws.com", source_arn=endpoint_arn
            )
            tarball = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except (ClientError, DeniedError, ServiceException) as error:
            raise ModelLoadError(
                f"Failed to download model data(bucket: {bucket}, key: {key}). Please ensure that there is an "
                "object located at the URL and that the role passed to CreateModel has permissions to download "
                f"the model. ({error})"
            ) from error
        loaded = LoadedModel(model_name, model.arn, model.execution_role_arn, load_model(tarball))
        with self._lock:
            self._loaded[(model.arn, url)] = loaded
        return loaded
