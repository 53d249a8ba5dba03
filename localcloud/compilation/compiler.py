"""What the local Neo stand-in does to one model: treelite reads it, tl2cgen writes C, gcc builds it.

The input is the built-in algorithm's ``model.tar.gz`` holding ``xgboost-model``: XGBoost's legacy
binary format (the 1.3-1 container on AWS) or the JSON or UBJSON one (the local training stand-in
saves what the installed XGBoost writes). The output is a ``.tar.gz`` holding ``compiled.so``, a
shared library for the target's architecture, and ``compiled.json``, what was built and how. The
library exports tl2cgen's functions (``predict``, ``get_num_feature``...) and a batch entry point
(``native/predict_batch.c``), so tl2cgen's predictor, ctypes (:mod:`localcloud.compilation.predictor`)
or a small C runner (:mod:`localcloud.compilation.emulation`) can load it.
"""

from __future__ import annotations

import ctypes
import functools
import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tl2cgen
import treelite

from localcloud.compilation.predictor import LIBRARY_FILE
from localcloud.compilation.targets import Architecture, Target
from localcloud.training import MODEL_FILE

METADATA_FILE = "compiled.json"
NATIVE = Path(__file__).resolve().parent / "native"
FRAMEWORK = "XGBOOST"
LATEST_FRAMEWORK_VERSION = (1, 3)
"""Neo compiles XGBoost 1.3 or earlier for edge targets ("Supported Frameworks" for edge devices)."""
# tl2cgen's own gcc toolchain builds with these flags.
CFLAGS = ("-O3", "-fPIC", "-std=c99")
# One translation unit per this many trees (at most MAX_UNITS): gcc optimises many small functions
# faster than one large one (200 trees of depth 5: 3.3 s in one unit, 1.9 s in four).
TREES_PER_UNIT = 50
MAX_UNITS = 8
COMPILE_TIMEOUT_SECONDS = 600
_BASE_SCORES = re.compile(r"(// Apply base_scores\n)((?:[ \t]*result\[\d+\] \+= [^;]+;\n)+)")


def _log(message: bytes) -> None:
    logging.getLogger("tl2cgen").debug(message.decode("utf-8", "replace").strip())


# tl2cgen prints its native library's log lines ("Parallel compilation enabled...") on stdout, one
# for each compilation; send them to logging instead (the callback must outlive the library).
_LOG_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_char_p)(_log)
tl2cgen.libloader._LIB.TL2cgenRegisterLogCallback(_LOG_CALLBACK)
_STDERR_LOCK = threading.Lock()
_TREELITE_NOTICE = re.compile(
    r"newer Treelite version|Currently running Treelite version|model checkpoint was generated from Treelite"
)


@contextmanager
def _native_output_logged() -> Iterator[None]:
    """Send the notice tl2cgen's bundled treelite writes straight to the process's stderr on every model
    of a newer treelite ("The model you are loading originated from a newer Treelite version") to
    logging, as its log callback's lines go. Stderr is the process's: compilations take turns, and what
    other threads write meanwhile is passed on after."""
    with _STDERR_LOCK, tempfile.TemporaryFile() as captured:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            others = []
            for line in captured.read().decode("utf-8", "replace").splitlines(keepends=True):
                if _TREELITE_NOTICE.search(line):
                    logging.getLogger("tl2cgen").debug(line.rstrip())
                else:
                    others.append(line)
            # What another thread wrote meanwhile is its own: it goes on to stderr, only later.
            sys.stderr.write("".join(others))


class InputError(Exception):
    """The job's input (framework, version, artifact, model) is not one Neo can compile."""


class ToolchainError(Exception):
    """The compiler for the target is missing, or failed."""


@dataclass(frozen=True)
class Build:
    """What one compilation produced: the artifact to upload, and the library inside it."""

    tarball: bytes
    library: bytes
    metadata: dict[str, Any]


def check_input(input_config: dict[str, Any]) -> None:
    """Refuse, with :class:`InputError`, an InputConfig the stand-in cannot compile."""
    framework = input_config.get("Framework")
    if framework != FRAMEWORK:
        raise InputError(f"the local Neo stand-in compiles {FRAMEWORK} models only, not {framework}")
    version = input_config.get("FrameworkVersion")
    if version is not None:
        parsed = re.match(r"(\d+)\.(\d+)", version)
        if parsed is None or (int(parsed[1]), int(parsed[2])) > LATEST_FRAMEWORK_VERSION:
            latest = ".".join(map(str, LATEST_FRAMEWORK_VERSION))
            raise InputError(
                f"FrameworkVersion {version} is not supported: Neo compiles XGBoost {latest} or earlier "
                "(the built-in algorithm's 1.3-1 container)"
            )
    uri = input_config.get("S3Uri", "")
    if not uri.endswith(".tar.gz"):
        raise InputError(f"S3Uri {uri} must point to a single gzip compressed tar archive (.tar.gz suffix)")


def output_uri(input_uri: str, output_location: str, target: Target) -> str:
    """Where Neo writes the result: the input file's name with the target appended, in the output
    location (``model.tar.gz`` for ``rasp3b`` becomes ``<S3OutputLocation>/model-rasp3b.tar.gz``)."""
    stem = input_uri.rsplit("/", 1)[-1].removesuffix(".tar.gz")
    return f"{output_location.rstrip('/')}/{stem}-{target.name}.tar.gz"


def read_model(tarball: bytes) -> bytes:
    """The model file of ``model.tar.gz``: its ``xgboost-model``, or its one file."""
    try:
        with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
            files = [member for member in archive.getmembers() if member.isfile()]
            named = [m for m in files if m.name.rsplit("/", 1)[-1] == MODEL_FILE]
            if not named and len(files) != 1:
                names = ", ".join(m.name for m in files) or "no file"
                raise InputError(f"model.tar.gz must hold one XGBoost model file ({MODEL_FILE}); it holds {names}")
            extracted = archive.extractfile((named or files)[0])
            return extracted.read() if extracted is not None else b""
    except (tarfile.TarError, OSError, EOFError) as error:
        raise InputError(f"the model artifact is not a gzip compressed tar archive: {error}") from error


def load_tree_model(raw: bytes) -> treelite.Model:
    """The XGBoost model in ``raw``, read by treelite in the format its first bytes show."""
    try:
        if raw[:1] == b"{":
            second = raw[1:2]
            if second == b'"' or second.isspace():
                return treelite.frontend.from_xgboost_json(raw)
            return treelite.frontend.from_xgboost_ubjson(raw)
        with tempfile.NamedTemporaryFile(suffix=".model") as file:
            file.write(raw)
            file.flush()
            return treelite.frontend.load_xgboost_model_legacy_binary(file.name)
    except treelite.TreeliteError as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError(f"{MODEL_FILE} is not an XGBoost tree model treelite can read: {reason}") from error


def compile_model(tarball: bytes, target: Target, *, broken: bool = False) -> Build:
    """Compile the model of ``model.tar.gz`` for ``target``.

    With ``broken``, the library builds but predicts wrongly on purpose (its base score is off by
    one), as a bad build would: a device's self-test catches it.
    """
    model = load_tree_model(read_model(tarball))
    architecture = target.architecture
    missing = architecture.missing_build_tools()
    if missing:
        tool, package = missing[0]
        raise ToolchainError(
            f"{tool} is not installed, so the local Neo stand-in cannot compile for {architecture.name} "
            f"({target.name}); install it with apt-get install {package}"
        )
    compiler = architecture.compiler
    with tempfile.TemporaryDirectory(prefix="neo-") as folder:
        source = Path(folder) / "source"
        units = max(1, min(MAX_UNITS, model.num_tree // TREES_PER_UNIT))
        with _native_output_logged():
            tl2cgen.generate_c_code(model, source, params={"parallel_comp": units})
        if broken:
            main = source / "main.c"
            main.write_text(corrupt(main.read_text()))
        shutil.copy(NATIVE / "predict_batch.c", source)
        library = Path(folder) / LIBRARY_FILE
        sources = sorted(str(path) for path in source.glob("*.c"))
        _run_compiler(architecture, [compiler, "-shared", *CFLAGS, "-o", str(library), *sources, "-lm"])
        data = library.read_bytes()
    metadata = {
        "framework": FRAMEWORK,
        "target": target.name,
        "os": target.os,
        "arch": architecture.name,
        "accelerator": target.accelerator,
        "library": LIBRARY_FILE,
        "num_feature": model.num_feature,
        "num_tree": model.num_tree,
        "compiler": f"{compiler} {_compiler_version(compiler)}",
        "treelite": treelite.__version__,
        "tl2cgen": tl2cgen.__version__,
    }
    files = {LIBRARY_FILE: data, METADATA_FILE: json.dumps(metadata, indent=2).encode()}
    return Build(_tarball(files), data, metadata)


def corrupt(main_c: str) -> str:
    """tl2cgen's ``main.c`` with every base score off by one."""

    def shifted(found: re.Match[str]) -> str:
        return found[1] + re.sub(r"\+= ([^;]+);", r"+= (\1) + 1.0;", found[2])

    corrupted, count = _BASE_SCORES.subn(shifted, main_c)
    if count != 1:
        raise RuntimeError("tl2cgen's main.c has no base score to corrupt: update corrupt() for this tl2cgen")
    return corrupted


def _run_compiler(architecture: Architecture, command: list[str]) -> None:
    try:
        subprocess.run(command, capture_output=True, text=True, check=True, timeout=COMPILE_TIMEOUT_SECONDS)
    except subprocess.CalledProcessError as error:
        tail = " ".join(error.stderr.strip().splitlines()[-3:])
        raise ToolchainError(f"{architecture.compiler} failed (exit {error.returncode}): {tail}") from error
    except subprocess.TimeoutExpired as error:
        raise ToolchainError(f"{architecture.compiler} ran longer than {COMPILE_TIMEOUT_SECONDS} s") from error


@functools.cache
def _compiler_version(compiler: str) -> str:
    found = subprocess.run([compiler, "-dumpfullversion"], capture_output=True, text=True, check=False)
    return found.stdout.strip()


def _tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755 if name.endswith(".so") else 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
