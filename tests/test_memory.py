"""nlpplat.memory: freed blocks stay in the heap for reuse, and the default can be restored.

glibc's ``mallinfo2`` tells where memory lives: ``hblkhd`` counts bytes in blocks served by
``mmap`` (returned to the kernel on free), ``fordblks`` free bytes kept in the heap. Each
case runs in a fresh interpreter, so that no earlier test has changed the allocator.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from nlpplat.memory import _glibc, keep_freed_memory

pytestmark = pytest.mark.skipif(
    _glibc() is None or not hasattr(_glibc(), "mallinfo2"), reason="needs glibc >= 2.33 (mallinfo2)"
)

PRELUDE = """
import ctypes, torch
from nlpplat.memory import _glibc, keep_freed_memory, return_freed_memory

class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = _glibc()
libc.mallinfo2.restype = Info
MB = 1024 * 1024

def mapped_and_free(megabytes):
    '''(bytes in mmap blocks while a tensor of that size lives, free heap bytes after it is freed)'''
    before = libc.mallinfo2().hblkhd
    tensor = torch.ones(megabytes * MB // 4)
    mapped = libc.mallinfo2().hblkhd - before
    del tensor
    return mapped, libc.mallinfo2().fordblks
"""


def run(body: str) -> str:
    script = PRELUDE + textwrap.dedent(body)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_kept_blocks_come_from_the_heap_and_stay_there_until_returned():
    out = run(
        """
        mapped, _ = mapped_and_free(64)
        assert mapped >= 64 * MB, mapped  # glibc's default: a fresh mmap, unmapped on free
        assert keep_freed_memory()
        mapped, free = mapped_and_free(64)
        assert mapped == 0, mapped  # served by the heap
        assert free >= 64 * MB, free  # and kept there once freed
        mapped, _ = mapped_and_free(64)
        assert mapped == 0
        assert return_freed_memory()
        mapped, _ = mapped_and_free(64)
        assert mapped >= 64 * MB, mapped  # the default again
        print("ok")
        """
    )
    assert out.strip() == "ok"


def test_keeping_is_idempotent():
    assert keep_freed_memory()
    assert keep_freed_memory()
