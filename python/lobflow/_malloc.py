"""Keep a long run's C heap from creeping up: glibc's ``mallopt`` and ``malloc_trim``.

A long run (the collector, ``lobflow live``) allocates and frees the same things every flush
interval, yet its resident memory rose by tens of MiB an hour while the bytes in use stayed
flat (``python -m lobflow.live.soak`` samples both): the free bytes held in the heap grew
without end. glibc serves blocks of 128 KiB and more with their own ``mmap``, given back
whole when freed, but each time such a block is freed it raises that threshold to the
block's size (up to 32 MiB). From then on the large, short-lived buffers of a frame or a
flush come from the heap, between small blocks that live on, and leave holes behind that
later requests of other sizes do not fill. Two calls keep it flat:

- `pin_mmap_threshold` fixes the threshold at glibc's default, which turns the raising off:
  large blocks keep their own mappings (an ``mmap`` and ``munmap`` each, a few a flush);
- `release_free_memory` (``malloc_trim(0)``) returns every whole free page of every arena
  to the system (``madvise(MADV_DONTNEED)``); the flush threads call it once an interval.

`malloc_mib` reads how much glibc's malloc has in use and holds free, for the soak.

On a C library without them (musl, macOS, Windows) the calls do nothing.
"""

from __future__ import annotations

import ctypes
import functools
import math

#: ``mallopt``'s parameter number for the mmap threshold (``M_MMAP_THRESHOLD`` in malloc.h).
M_MMAP_THRESHOLD = -3
#: glibc's default threshold: blocks this large or larger get their own mapping.
DEFAULT_MMAP_THRESHOLD = 128 * 1024


class _Mallinfo2(ctypes.Structure):
    """The ``struct mallinfo2`` of glibc 2.33 and later: sums over every arena."""

    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):
        return None
    libc.mallopt.restype = libc.malloc_trim.restype = ctypes.c_int
    return libc


def pin_mmap_threshold() -> bool:
    """Fix glibc's mmap threshold at its default for this process; False off glibc."""
    libc = _libc()
    return bool(libc.mallopt(M_MMAP_THRESHOLD, DEFAULT_MMAP_THRESHOLD)) if libc else False


def release_free_memory() -> bool:
    """Return the C heap's free pages to the system; True if any were (False off glibc).

    It walks every arena's free blocks under that arena's lock: call it off the latency path
    (the flush threads do, once a flush interval).
    """
    libc = _libc()
    return bool(libc.malloc_trim(0)) if libc else False


def mallinfo() -> _Mallinfo2 | None:
    """The result of glibc's ``mallinfo2()``; None off glibc or before 2.33."""
    libc = _libc()
    fn = getattr(libc, "mallinfo2", None) if libc is not None else None
    if fn is None:
        return None
    fn.restype = _Mallinfo2
    info: _Mallinfo2 = fn()
    return info


def malloc_mib() -> tuple[float, float]:
    """The bytes glibc's malloc has in use and holds free (all arenas), MiB; NaN off glibc.

    In use growing is a leak in native code (the Rust core, Python's large objects); free
    growing while in use stays is the allocator keeping freed memory (fragmentation).
    """
    m = mallinfo()
    if m is None:
        return math.nan, math.nan
    return (m.uordblks + m.hblkhd) / 2**20, m.fordblks / 2**20
