"""The local stand-in for SageMaker Neo: compilation jobs that really compile XGBoost models.

``cloud.compilation`` runs the jobs on stack time (:mod:`localcloud.compilation.jobs`); each one
compiles the packaged model with treelite, tl2cgen and the target's gcc
(:mod:`localcloud.compilation.compiler`) for a Neo target (:mod:`localcloud.compilation.targets`).
What it builds loads with ctypes (:mod:`localcloud.compilation.predictor`), or runs through a small
C runner under qemu-user on any architecture (:mod:`localcloud.compilation.emulation`).
``cloud.compilation_faults`` injects failed jobs and builds that are wrong on purpose.
"""

from localcloud.compilation.jobs import CompilationFaults, Compilations
from localcloud.compilation.predictor import CompiledModel, CompiledModelError

__all__ = ["CompilationFaults", "Compilations", "CompiledModel", "CompiledModelError"]
