"""The local stand-in for SageMaker training with the built-in XGBoost algorithm.

A training job trains XGBoost for real on its channels in emulated S3, read as the job's role:
``S3Prefix`` and ``ManifestFile`` channels, replicated or ``ShardedByS3Key`` across
``InstanceCount`` hosts (:mod:`localcloud.training.channels`). One host trains in this process;
several train as spawned processes joined by XGBoost's collective
(:mod:`localcloud.training.cluster`), each reading only its own folder
(:mod:`localcloud.training.algorithm`). The job writes ``model.tar.gz`` holding ``xgboost-model``
under its output path, reports the real final metrics (``train:auc``, ``validation:auc``, ...),
and logs what each host read to CloudWatch Logs (:mod:`localcloud.training.logs`). The model is
saved in the format of the installed XGBoost, not the legacy binary of the 1.3-1 container (see
the README).
"""

from localcloud.training.algorithm import CHECKPOINT_FILE, MODEL_FILE, TrainingDataError
from localcloud.training.jobs import TrainingFaults, TrainingOutcome, train

__all__ = ["CHECKPOINT_FILE", "MODEL_FILE", "TrainingDataError", "TrainingFaults", "TrainingOutcome", "train"]
