"""Neo compilation jobs really compile the model for their target, on stack time, as the job's role."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from botocore.exceptions import ClientError

from conveyor_tools.synthetic import packaged_model
from localcloud import LocalCloud
from localcloud.adapters.sagemaker_compilation import sagemaker_compilation
from localcloud.compilation import CompiledModel, CompiledModelError, emulation
from localcloud.compilation.compiler import compile_model, output_uri
from localcloud.compilation.targets import ARM64, ARM_EABIHF, X86_64, elf_architecture, resolve
from tests.localcloud.compilation_stack import (
    BUCKET,
    MODEL_URI,
    OUTPUT_LOCATION,
    artifact,
    compilation_cloud,
    compiled_objects,
    compiler_role,
    create_job,
    describe,
    feature_matrix,
    member,
    model_tarball,
    xgboost_predictions,
)

pytestmark = pytest.mark.localcloud

# One target of each architecture, named as a device or as a platform.
TARGETS = {
    X86_64: {"TargetDevice": "ml_c5"},
    ARM64: {"TargetDevice": "rasp4b"},
    ARM_EABIHF: {"TargetPlatform": {"Os": "LINUX", "Arch": "ARM_EABIHF"}},
}


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    with compilation_cloud() as deployed:
        yield deployed


def needs(arch: str, *, run: bool) -> None:
    """Skip, naming the tool, when this machine cannot build for ``arch`` (or run the result, with ``run``)."""
    missing = emulation.missing_tools(arch)
    if not run:
        missing = [m for m in missing if m.package != "qemu-user"]
    if missing:
        pytest.skip("; ".join(str(m) for m in missing))


def test_gap_moto_completes_jobs_at_once_without_compiling() -> None:
    with compilation_cloud(without=[sagemaker_compilation]) as cloud:
        job = create_job(cloud)
        assert job["CompilationJobStatus"] == "COMPLETED"
        assert job["ModelArtifacts"]["S3ModelArtifacts"] == OUTPUT_LOCATION
        assert compiled_objects(cloud) == []
        with pytest.raises((ClientError, NotImplementedError)):
            cloud.client("sagemaker").stop_compilation_job(CompilationJobName="compile-1")


def test_fix_the_compiled_library_predicts_what_xgboost_predicts(cloud: LocalCloud, tmp_path: Path) -> None:
    job = create_job(cloud)
    assert job["CompilationJobStatus"] == "COMPLETED"
    model = CompiledModel.from_artifact(artifact(cloud, job), tmp_path)
    rows = feature_matrix(100)
    np.testing.assert_allclose(model.predict(rows), xgboost_predictions(rows), rtol=0, atol=1e-5)


def test_rows_of_another_width_are_refused(cloud: LocalCloud, tmp_path: Path) -> None:
    model = CompiledModel.from_artifact(artifact(cloud, create_job(cloud)), tmp_path)
    with pytest.raises(CompiledModelError, match="rows must have 6 features each, got an array of shape"):
        model.predict(np.zeros((3, 5)))


def test_fix_the_artifact_is_named_as_neo_names_it_and_digested(cloud: LocalCloud) -> None:
    job = create_job(cloud)
    assert job["ModelArtifacts"]["S3ModelArtifacts"] == f"{OUTPUT_LOCATION}/model-ml_c5.tar.gz"
    assert compiled_objects(cloud) == ["compiled/run-1/model-ml_c5.tar.gz"]
    assert job["ModelDigests"]["ArtifactDigest"] == hashlib.sha256(artifact(cloud, job)).hexdigest()
    metadata = json.loads(member(artifact(cloud, job), "compiled.json"))
    assert (metadata["target"], metadata["arch"], metadata["num_feature"]) == ("ml_c5", X86_64, 6)


@pytest.mark.parametrize(
    ("output_config", "name"),
    [
        ({"TargetDevice": "rasp3b"}, "model-rasp3b.tar.gz"),
        ({"TargetPlatform": {"Os": "LINUX", "Arch": "ARM64"}}, "model-LINUX_ARM64.tar.gz"),
        (
            {"TargetPlatform": {"Os": "LINUX", "Arch": "ARM64", "Accelerator": "NVIDIA"}},
            "model-LINUX_ARM64_NVIDIA.tar.gz",
        ),
    ],
)
def test_the_output_is_the_input_name_with_the_target_appended(output_config: dict[str, object], name: str) -> None:
    target = resolve(output_config)
    assert output_uri(MODEL_URI, OUTPUT_LOCATION + "/", target) == f"{OUTPUT_LOCATION}/{name}"


def test_a_job_is_in_progress_for_its_compile_time_in_stack_time(cloud: LocalCloud) -> None:
    cloud.compilation.compile_seconds = 900
    job = create_job(cloud)
    assert job["CompilationJobStatus"] == "INPROGRESS"
    assert "ModelArtifacts" not in job
    assert compiled_objects(cloud) == []
    cloud.advance(minutes=15)
    job = describe(cloud)
    assert job["CompilationJobStatus"] == "COMPLETED"
    assert (job["CompilationEndTime"] - job["CompilationStartTime"]).total_seconds() == pytest.approx(900)


def test_a_running_job_stops_and_writes_nothing(cloud: LocalCloud) -> None:
    cloud.compilation.compile_seconds, cloud.compilation.stop_seconds = 900, 30
    create_job(cloud)
    cloud.client("sagemaker").stop_compilation_job(CompilationJobName="compile-1")
    assert describe(cloud)["CompilationJobStatus"] == "STOPPING"
    cloud.advance(minutes=30)
    assert describe(cloud)["CompilationJobStatus"] == "STOPPED"
    assert compiled_objects(cloud) == []
    with pytest.raises(ClientError, match="only a running job can be stopped"):
        cloud.client("sagemaker").stop_compilation_job(CompilationJobName="compile-1")


def test_a_workflow_polling_a_job_sees_it_complete(cloud: LocalCloud) -> None:
    # Given a workflow that creates a job and polls it, as the edge release does (its waits do not move stack time)
    definition = {
        "StartAt": "Compile model",
        "States": {
            "Compile model": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sagemaker:createCompilationJob",
                "Parameters": {
                    "CompilationJobName": "compile-1",
                    "RoleArn": compiler_role(cloud),
                    "InputConfig": {"S3Uri": MODEL_URI, "Framework": "XGBOOST", "FrameworkVersion": "1.3"},
                    "OutputConfig": {"S3OutputLocation": OUTPUT_LOCATION, "TargetDevice": "ml_c5"},
                    "StoppingCondition": {"MaxRuntimeInSeconds": 900},
                },
                "ResultPath": None,
                "Next": "Wait for compilation",
            },
            "Wait for compilation": {"Type": "Wait", "Seconds": 30, "Next": "Describe compilation"},
            "Describe compilation": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sagemaker:describeCompilationJob",
                "Parameters": {"CompilationJobName": "compile-1"},
                "ResultSelector": {"status.$": "$.CompilationJobStatus"},
                "Next": "Is compilation done",
            },
            "Is compilation done": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.status", "StringEquals": "INPROGRESS", "Next": "Wait for compilation"}],
                "Default": "Done",
            },
            "Done": {"Type": "Succeed"},
        },
    }
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    # When it runs with the default compile time
    execution = cloud.run_state_machine("edge", definition, policy=everything)
    # Then it sees the job completed, and the artifact is there
    assert (execution["status"], json.loads(execution["output"])) == ("SUCCEEDED", {"status": "COMPLETED"})
    assert compiled_objects(cloud) == ["compiled/run-1/model-ml_c5.tar.gz"]


def test_listing_shows_each_job_as_it_is_at_stack_time(cloud: LocalCloud) -> None:
    cloud.compilation.compile_seconds = 900
    create_job(cloud)

    def listed() -> list[tuple[str, str]]:
        summaries = cloud.client("sagemaker").list_compilation_jobs()["CompilationJobSummaries"]
        return [(s["CompilationJobName"], s["CompilationJobStatus"]) for s in summaries]

    assert listed() == [("compile-1", "INPROGRESS")]
    cloud.advance(minutes=15)
    assert listed() == [("compile-1", "COMPLETED")]


def test_a_deleted_job_is_gone(cloud: LocalCloud) -> None:
    create_job(cloud)
    cloud.client("sagemaker").delete_compilation_job(CompilationJobName="compile-1")
    with pytest.raises(ClientError, match="Could not find compilation job 'compile-1'"):
        describe(cloud)


def test_stopping_a_job_that_does_not_exist_is_refused(cloud: LocalCloud) -> None:
    with pytest.raises(ClientError, match="Could not find compilation job 'nothing'"):
        cloud.client("sagemaker").stop_compilation_job(CompilationJobName="nothing")


@pytest.mark.parametrize("arch", [ARM64, ARM_EABIHF])
def test_arm_targets_compile_to_a_library_for_their_machine(cloud: LocalCloud, arch: str) -> None:
    needs(arch, run=False)
    job = create_job(cloud, target=TARGETS[arch])
    assert job["CompilationJobStatus"] == "COMPLETED", job.get("FailureReason")
    assert elf_architecture(member(artifact(cloud, job), "compiled.so")) == arch


@pytest.mark.parametrize("arch", [X86_64, ARM64, ARM_EABIHF])
def test_each_library_runs_on_its_machine_and_predicts_what_xgboost_predicts(
    cloud: LocalCloud, tmp_path: Path, arch: str
) -> None:
    needs(arch, run=True)
    job = create_job(cloud, target=TARGETS[arch])
    library = tmp_path / "compiled.so"
    library.write_bytes(member(artifact(cloud, job), "compiled.so"))
    runner = emulation.build_runner(arch, tmp_path)
    rows = feature_matrix(100)
    predictions = emulation.predict(arch, runner, library, rows)
    np.testing.assert_allclose(predictions, xgboost_predictions(rows), rtol=0, atol=1e-5)


def test_a_missing_cross_compiler_fails_the_job_naming_it(cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda tool: None if tool == "aarch64-linux-gnu-gcc" else which(tool))
    job = create_job(cloud, target=TARGETS[ARM64])
    assert job["CompilationJobStatus"] == "FAILED"
    assert job["FailureReason"] == (
        "LocalCloudError: aarch64-linux-gnu-gcc is not installed, so the local Neo stand-in cannot compile for "
        "ARM64 (rasp4b); install it with apt-get install gcc-aarch64-linux-gnu"
    )


@pytest.mark.parametrize(
    ("framework_version", "accepted"), [("1.3", True), ("1.0", True), ("1.3-1", True), ("1.5", False), ("2.0", False)]
)
def test_neo_compiles_xgboost_1_3_or_earlier(cloud: LocalCloud, framework_version: str, accepted: bool) -> None:
    input_config = {"S3Uri": MODEL_URI, "Framework": "XGBOOST", "FrameworkVersion": framework_version}
    job = create_job(cloud, input_config=input_config)
    if accepted:
        assert job["CompilationJobStatus"] == "COMPLETED"
    else:
        assert job["CompilationJobStatus"] == "FAILED"
        assert job["FailureReason"] == (
            f"ClientError: InputConfiguration: FrameworkVersion {framework_version} is not supported: "
            "Neo compiles XGBoost 1.3 or earlier (the built-in algorithm's 1.3-1 container)"
        )


def test_other_frameworks_fail_the_job(cloud: LocalCloud) -> None:
    job = create_job(cloud, input_config={"S3Uri": MODEL_URI, "Framework": "PYTORCH"})
    assert job["FailureReason"] == (
        "ClientError: InputConfiguration: the local Neo stand-in compiles XGBOOST models only, not PYTORCH"
    )


def test_a_device_the_stand_in_does_not_build_for_fails_the_job(cloud: LocalCloud) -> None:
    job = create_job(cloud, target={"TargetDevice": "qcs605"})
    assert job["CompilationJobStatus"] == "FAILED"
    assert job["FailureReason"].startswith(
        "ClientError: OutputConfiguration: the local Neo stand-in does not compile for TargetDevice qcs605; "
        "it compiles for jetson_nano, jetson_xavier, ml_c5"
    )


def test_a_target_outside_the_api_is_refused_at_once(cloud: LocalCloud) -> None:
    with pytest.raises(ClientError, match=r"Value 'raspberry' at 'outputConfig\.targetDevice' failed to satisfy"):
        create_job(cloud, target={"TargetDevice": "raspberry"})


def test_a_device_and_a_platform_together_are_refused_at_once(cloud: LocalCloud) -> None:
    both = {"TargetDevice": "ml_c5", "TargetPlatform": {"Os": "LINUX", "Arch": "X86_64"}}
    with pytest.raises(ClientError, match="either TargetDevice or TargetPlatform, not both"):
        create_job(cloud, target=both)


def test_a_file_that_is_no_xgboost_model_fails_the_job(cloud: LocalCloud) -> None:
    cloud.client("s3").put_object(Bucket=BUCKET, Key="training/bad/model.tar.gz", Body=b"not a tarball")
    job = create_job(cloud, input_config={"S3Uri": f"s3://{BUCKET}/training/bad/model.tar.gz", "Framework": "XGBOOST"})
    assert job["CompilationJobStatus"] == "FAILED"
    assert job["FailureReason"].startswith(
        "ClientError: InputConfiguration: the model artifact is not a gzip compressed tar archive"
    )


def test_a_model_treelite_cannot_read_fails_the_job(cloud: LocalCloud) -> None:
    cloud.client("s3").put_object(Bucket=BUCKET, Key="training/bad/model.tar.gz", Body=packaged_model(b'{"a": 1}'))
    job = create_job(cloud, input_config={"S3Uri": f"s3://{BUCKET}/training/bad/model.tar.gz", "Framework": "XGBOOST"})
    assert job["FailureReason"].startswith(
        "ClientError: InputConfiguration: xgboost-model is not an XGBoost tree model treelite can read:"
    )


def test_the_job_reads_the_model_as_its_role(cloud: LocalCloud) -> None:
    job = create_job(cloud, role=compiler_role(cloud, "blind", read=False))
    assert job["CompilationJobStatus"] == "FAILED"
    assert job["FailureReason"].startswith(f"ClientError: InputConfiguration: cannot download {MODEL_URI}:")
    assert "AccessDenied" in job["FailureReason"]


def test_the_job_writes_the_artifact_as_its_role(cloud: LocalCloud) -> None:
    job = create_job(cloud, role=compiler_role(cloud, "mute", write=False))
    assert job["FailureReason"].startswith(
        f"ClientError: OutputConfiguration: cannot upload {OUTPUT_LOCATION}/model-ml_c5.tar.gz:"
    )
    assert compiled_objects(cloud) == []


def test_the_artifact_is_encrypted_with_the_jobs_key(cloud: LocalCloud) -> None:
    key = cloud.client("kms").create_key()["KeyMetadata"]["Arn"]
    create_job(cloud, KmsKeyId=key)
    head = cloud.client("s3").head_object(Bucket=BUCKET, Key="compiled/run-1/model-ml_c5.tar.gz")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key)


def test_an_injected_failure_fails_the_next_job_only(cloud: LocalCloud) -> None:
    cloud.compilation_faults.fail_next.append("ClientError: CompilationError: injected")
    assert create_job(cloud, "compile-1")["FailureReason"] == "ClientError: CompilationError: injected"
    assert create_job(cloud, "compile-2")["CompilationJobStatus"] == "COMPLETED"


def test_a_broken_build_compiles_but_predicts_wrongly(cloud: LocalCloud, tmp_path: Path) -> None:
    cloud.compilation_faults.broken_builds.add("ml_c5")
    rows = feature_matrix(20)
    broken = create_job(cloud, "compile-1")
    assert broken["CompilationJobStatus"] == "COMPLETED"
    predictions = CompiledModel.from_artifact(artifact(cloud, broken), tmp_path / "broken").predict(rows)
    assert np.abs(predictions - xgboost_predictions(rows)).min() > 1e-3
    fixed = create_job(cloud, "compile-2")
    predictions = CompiledModel.from_artifact(artifact(cloud, fixed), tmp_path / "fixed").predict(rows)
    np.testing.assert_allclose(predictions, xgboost_predictions(rows), rtol=0, atol=1e-5)


def test_treelites_version_notice_is_logged_and_other_threads_stderr_kept(capfd: pytest.CaptureFixture[str]) -> None:
    # Given another thread writing to stderr while a model (of a newer treelite than tl2cgen's) compiles
    def chatter() -> None:
        for line in range(10):
            print(f"another thread's line {line}", file=sys.stderr, flush=True)
            time.sleep(0.01)

    other = threading.Thread(target=chatter)
    other.start()
    compile_model(model_tarball(), resolve({"TargetPlatform": {"Os": "LINUX", "Arch": "X86_64"}}))
    other.join()
    # Then stderr holds every line of the other thread's, and none of treelite's notice
    err = capfd.readouterr().err
    assert [f"another thread's line {line}" in err for line in range(10)] == [True] * 10
    assert "Treelite version" not in err
