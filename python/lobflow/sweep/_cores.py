"""Which core a sweep worker's engine runs on: one per worker process, claimed with a lock.

The engine pins two threads, and where they have a core each they spin while they wait. On a
2-core machine with two workers, two engines asking for the same two cores would put four
spinning threads on two cores, each waiting for a partner that the scheduler has swapped out.
So each worker process claims one core of its own (an advisory ``flock`` on a file per core
in the temp folder, released when the process ends, killed or not) and runs both engine
threads on it: threads that share a core yield instead of spinning (docs/engine.md), so one
worker's engine never takes another worker's core.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

_claimed: tuple[int, int] | None = None
#: Open lock files, kept for the life of the process: closing one releases its core.
_held: list[int] = []


def _available() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return list(range(os.cpu_count() or 1))


def claim_core() -> int:
    """Claim this process's core for the engine: the first one no other process holds.

    The claim lasts as long as the process. When every core is held (more workers than
    cores) the process shares one, chosen by its pid.
    """
    global _claimed
    pid = os.getpid()
    if _claimed is not None and _claimed[0] == pid:
        return _claimed[1]
    cores = _available()
    folder = Path(tempfile.gettempdir()) / f"lobflow-sweep-cores-{os.getuid()}"
    folder.mkdir(exist_ok=True)
    chosen = cores[pid % len(cores)]
    for core in cores:
        fd = os.open(folder / f"{core}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        _held.append(fd)
        chosen = core
        break
    _claimed = (pid, chosen)
    return chosen
