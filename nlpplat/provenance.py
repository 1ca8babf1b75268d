"""Where a result came from: package versions, source commit and machine."""

from __future__ import annotations

import functools
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

from nlpplat import allocator


def versions(registry: Any = None) -> dict[str, Any]:
    """Versions of nlpplat, torch, Python and every loaded plugin distribution."""
    from nlpplat import __version__

    plugins = {}
    for status in getattr(registry, "plugins", []):
        if status.distribution and status.ok:
            plugins[status.distribution] = status.version
    return {
        "nlpplat": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "plugins": plugins,
        "commit": source_commit(),
    }


@functools.cache
def source_commit() -> str:
    """The git commit of the nlpplat checkout, "" when not run from one."""
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return ""
    try:
        output = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):  # provenance must never fail a finished run
        return ""
    return output.stdout.strip() + ("-dirty" if dirty else "")


# Why bf16 is slow where fast_bf16() is False, in one sentence for warnings and errors.
NO_FAST_BF16 = "this CPU has no fast bf16 kernels (oneDNN needs AVX512 or AVX-NE-CONVERT)"


def fast_bf16() -> bool:
    """Whether oneDNN has fast bf16 kernels for this CPU (it needs AVX512 or AVX-NE-CONVERT).

    Without it, oneDNN refuses bf16 matrix products and ``torch.mm`` emulates them at a
    small fraction of fp32's speed.
    """
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a PyTorch build without oneDNN: no such kernels
        return False


@functools.cache
def machine() -> dict[str, Any]:
    """CPU model and vector extensions, core count, threads, memory allocator and GPU, as stored with each result.

    A virtual machine may report one CPU model name for different hosts; the vector
    extensions (``cpu_capability``, e.g. AVX2 or AVX512) and ``fast_bf16`` still tell them
    apart, and speeds differ several-fold between them.
    """
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else ""
    return {
        "cpu": cpu,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "fast_bf16": fast_bf16(),
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "allocator": allocator.loaded(),  # tcmalloc makes bf16 steps faster (nlpplat.allocator)
        "gpu": gpu,
        "platform": f"{platform.system()} {platform.release()}",
        "python_executable": sys.executable,
    }
