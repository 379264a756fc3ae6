"""`lobflow._malloc`: large blocks keep their own mappings; free heap pages go back."""

from __future__ import annotations

import ctypes
import subprocess
import sys

import pytest

from lobflow._malloc import _libc, release_free_memory
from lobflow.live.soak import rss_mib

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or _libc() is None, reason="glibc only"
)


def test_trim_returns_the_free_pages_a_fragmented_heap_keeps() -> None:
    libc = ctypes.CDLL(None)
    libc.malloc.restype = libc.realloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.realloc.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
    # 64 KiB blocks (below the mmap threshold: on the heap), their pages touched, then each
    # shrunk in place to its first 64 bytes: the rest of each is a free hole between two live
    # heads, which the heap cannot give back by shrinking from its top.
    heads = []
    for _ in range(1_500):
        p = libc.malloc(64 * 1024)
        libc.memset(p, 1, 64 * 1024)
        heads.append(p)
    heads = [libc.realloc(p, 64) for p in heads]
    try:
        held = rss_mib()
        assert release_free_memory()
        released = held - rss_mib()
        # ~94 MiB lies in the holes, nearly all of it in whole pages.
        assert released > 60, f"RSS fell by {released:.1f} MiB only"
    finally:
        for p in heads:
            libc.free(p)


_PROBE = """
import ctypes, sys
from lobflow._malloc import pin_mmap_threshold
from lobflow._malloc import mallinfo
if sys.argv[1] == "pin":
    assert pin_mmap_threshold()
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.free(libc.malloc(8 * 2**20))  # an 8 MiB block: mapped, then freed
mapped = mallinfo().hblkhd
block = libc.malloc(2**20)  # then 1 MiB: its own mapping, or a slice of the heap?
print(mallinfo().hblkhd - mapped)
"""


def _mapped_bytes(mode: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True
    )
    return int(out.stdout)


def test_the_pinned_threshold_keeps_large_blocks_in_their_own_mappings() -> None:
    # Unpinned, freeing the 8 MiB block raised glibc's threshold past 1 MiB, and the next
    # 1 MiB block comes from the heap, where it may leave a hole. Pinned, it is mapped.
    assert _mapped_bytes("free") == 0
    assert _mapped_bytes("pin") >= 2**20
