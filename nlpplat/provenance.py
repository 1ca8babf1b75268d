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


def native_bf16() -> bool:
    """Whether this CPU multiplies bf16 matrices in hardware (AVX512-BF16 or AMX).

    Without it, oneDNN emulates bf16 and a bf16 matrix product is far slower than fp32
    (0.3 against 64 GFLOP/s for 2048² on one AVX2 core of our machine on 2026-12-02).
    """
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


@functools.cache
def machine() -> dict[str, Any]:
    """CPU model and vector extensions, core count, threads used and GPU, as stored with each result.

    A virtual machine may report one CPU model name for different hosts; the vector
    extensions (``cpu_capability``, e.g. AVX2 or AVX512) and native bf16 still tell them
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
        "native_bf16": native_bf16(),
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "gpu": gpu,
        "platform": f"{platform.system()} {platform.release()}",
        "python_executable": sys.executable,
    }
