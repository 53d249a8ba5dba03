"""Where a compiled model runs: Neo's targets, the toolchain that builds for each, and ELF checks.

A compilation job names its target as a ``TargetDevice`` (``ml_c5``, ``rasp3b``, ``jetson_nano``...)
or a ``TargetPlatform`` (``Os``, ``Arch``, optional ``Accelerator``). The stand-in compiles for Linux
on three architectures, each with the gcc Debian packages for it: ``gcc`` on this machine's own
architecture, ``<triplet>-gcc`` otherwise; qemu-user runs what was built for another one.
"""

from __future__ import annotations

import platform
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

X86_64 = "X86_64"
ARM64 = "ARM64"
ARM_EABIHF = "ARM_EABIHF"


@dataclass(frozen=True)
class Architecture:
    """A CPU architecture, as TargetPlatform names it, and how to build and run code for it."""

    name: str
    triplet: str
    """The GNU triplet: the cross gcc is ``<triplet>-gcc`` and its libraries are in ``/usr/<triplet>``."""
    qemu: str
    """The qemu-user emulator that runs it on another architecture."""
    elf_machine: int
    """``e_machine`` of its ELF files."""
    elf_class: int
    """``EI_CLASS`` of its ELF files: 1 for 32-bit, 2 for 64-bit."""
    host_name: str
    """``platform.machine()`` on a machine of this architecture."""
    debian_arch: str
    """Debian's name for it (the cross C library is ``libc6-dev-<debian_arch>-cross``)."""

    @property
    def native(self) -> bool:
        """Whether this machine runs code of this architecture without emulation."""
        return platform.machine() == self.host_name

    @property
    def compiler(self) -> str:
        return "gcc" if self.native else f"{self.triplet}-gcc"

    @property
    def compiler_package(self) -> str:
        """The Debian package that installs :attr:`compiler`."""
        return "gcc" if self.native else f"gcc-{self.triplet}"

    @property
    def cross_libc_package(self) -> str:
        return f"libc6-dev-{self.debian_arch}-cross"

    @property
    def sysroot(self) -> Path:
        """The target's C library, installed with the cross gcc, where qemu-user finds it (``-L``)."""
        return Path("/usr") / self.triplet

    def missing_build_tools(self) -> list[tuple[str, str]]:
        """(tool, Debian package) of what is missing here to build for this architecture."""
        if shutil.which(self.compiler) is None:
            return [(self.compiler, self.compiler_package)]
        if not self.native and not (self.sysroot / "lib").is_dir():
            return [(f"the {self.triplet} C library", self.cross_libc_package)]
        return []


ARCHITECTURES = {
    X86_64: Architecture(X86_64, "x86_64-linux-gnu", "qemu-x86_64", 62, 2, "x86_64", "amd64"),
    ARM64: Architecture(ARM64, "aarch64-linux-gnu", "qemu-aarch64", 183, 2, "aarch64", "arm64"),
    ARM_EABIHF: Architecture(ARM_EABIHF, "arm-linux-gnueabihf", "qemu-arm", 40, 1, "armv7l", "armhf"),
}

# Neo's edge devices and instance families the stand-in builds for, by the (Linux) architecture of
# their CPU. A tree model runs on the CPU, so a device's accelerator does not change the build.
DEVICES = {
    "ml_c5": X86_64,
    "ml_m5": X86_64,
    "ml_c6g": ARM64,
    "rasp3b": ARM_EABIHF,
    "rasp4b": ARM64,
    "jetson_nano": ARM64,
    "jetson_xavier": ARM64,
}

# ARM's ELF header flag for the hard-float procedure call standard (armhf).
_EF_ARM_ABI_FLOAT_HARD = 0x400


class TargetError(Exception):
    """The stand-in does not build for the requested target."""


@dataclass(frozen=True)
class Target:
    """What a job compiles for: its name in the output file, and the architecture of its CPU."""

    name: str
    """``TargetDevice``, or ``<Os>_<Arch>[_<Accelerator>]`` for a TargetPlatform (as Neo names the output)."""
    architecture: Architecture
    os: str = "LINUX"
    accelerator: str | None = None


def resolve(output_config: dict[str, Any]) -> Target:
    """The target of a job's ``OutputConfig``, or :class:`TargetError` saying what is supported."""
    device = output_config.get("TargetDevice")
    if device is not None:
        if device not in DEVICES:
            raise TargetError(
                f"the local Neo stand-in does not compile for TargetDevice {device}; "
                f"it compiles for {', '.join(sorted(DEVICES))}, or a TargetPlatform"
            )
        return Target(device, ARCHITECTURES[DEVICES[device]])
    platform_config = output_config.get("TargetPlatform") or {}
    os_name, arch = platform_config.get("Os"), platform_config.get("Arch")
    accelerator = platform_config.get("Accelerator")
    if os_name != "LINUX" or arch not in ARCHITECTURES:
        raise TargetError(
            f"the local Neo stand-in does not compile for TargetPlatform Os {os_name}, Arch {arch}; "
            f"it compiles for Os LINUX with Arch {', '.join(ARCHITECTURES)}"
        )
    name = "_".join(part for part in (os_name, arch, accelerator) if part)
    return Target(name, ARCHITECTURES[arch], os=os_name, accelerator=accelerator)


def elf_architecture(data: bytes) -> str | None:
    """The architecture (:data:`ARCHITECTURES` key) an ELF file was built for, or None if unknown.

    32-bit ARM counts as ARM_EABIHF only when its header declares the hard-float ABI.
    """
    if len(data) < 52 or data[:4] != b"\x7fELF":
        return None
    elf_class = data[4]
    byteorder: Literal["little", "big"] = "little" if data[5] == 1 else "big"
    machine = int.from_bytes(data[18:20], byteorder)
    flags_at = 48 if elf_class == 2 else 36
    flags = int.from_bytes(data[flags_at : flags_at + 4], byteorder)
    for architecture in ARCHITECTURES.values():
        if (architecture.elf_machine, architecture.elf_class) != (machine, elf_class):
            continue
        if architecture.name == ARM_EABIHF and not flags & _EF_ARM_ABI_FLOAT_HARD:
            return None
        return architecture.name
    return None
