"""Keep freed memory in the process, so that each training step does not page it back in.

A training step allocates the same large tensors again and again: the logits of a
translation batch alone are 3,800 × 8,000 floats (120 MB), and their gradient as much again.
glibc's ``malloc`` serves any request above its mmap threshold (at most 32 MB) with a fresh
``mmap`` and returns it to the kernel with ``munmap`` when torch frees it, so every step
touches those pages for the first time. Each first touch is a page fault, and on a virtual
machine that hands free pages back to its host (this project's does) a fault costs
microseconds. In a ``torch.profiler`` trace of a translation step, the few operations that
wrote such tensors into new memory (an addition in the loss's backward pass, a fill, the
output layer's product) were among the slowest of the step.

:func:`keep_freed_memory` asks glibc (``mallopt``) never to serve a request with ``mmap`` and
never to give the heap's free top back to the kernel. Freed blocks then stay in the heap
and the next step reuses them, already mapped. The cost is that the process keeps its peak
heap for its lifetime, which a training or evaluation process needs again anyway.
``python benchmarks/memory.py`` measures the effect on real training steps.

CUDA memory is unaffected (torch's own caching allocator already reuses it); on a system
without glibc (macOS, Windows, musl) nothing changes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

# mallopt parameters, from glibc's <malloc.h>
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_MMAP_MAX = -4
_INT_MAX = 2**31 - 1  # mallopt takes a C int


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (it has ``mallopt``), else None."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version  # noqa: B018 - only glibc has it; musl's mallopt does nothing
    except (OSError, AttributeError):
        return None
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return libc


def keep_freed_memory() -> bool:
    """Make glibc keep freed memory for reuse; True when it did (glibc only). Idempotent."""
    libc = _glibc()
    if libc is None:
        return False
    # mallopt returns 1 on success. No mmap at all rather than a higher threshold: glibc caps
    # the threshold at 32 MB, and the tensors that matter most are larger.
    return bool(libc.mallopt(M_MMAP_MAX, 0) and libc.mallopt(M_TRIM_THRESHOLD, _INT_MAX))


def return_freed_memory() -> bool:
    """Undo :func:`keep_freed_memory`: give the heap's free pages back to the kernel now
    (``malloc_trim``) and restore glibc's thresholds as its own adjustment leaves them once
    large blocks have come and gone (mmap above 32 MB, trim above 64 MB). For measuring what
    :func:`keep_freed_memory` buys; True when glibc took the values."""
    libc = _glibc()
    if libc is None:
        return False
    mmap_threshold = 32 * 1024 * 1024
    restored = (
        libc.mallopt(M_MMAP_MAX, 65536)
        and libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold)
        and libc.mallopt(M_TRIM_THRESHOLD, 2 * mmap_threshold)
    )
    libc.malloc_trim(0)
    return bool(restored)
