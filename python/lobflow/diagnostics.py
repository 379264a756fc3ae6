"""The machine's latency floors, apart from the engine's results (`lobflow c2c`).

Three probes, each between two pinned threads, each a `C2cReport` of one-way ns percentiles:

- `core_to_core_latency`: one cache line bounced between the two cores, 64 round trips per
  clock read: the bare cost of a line crossing.
- `handoff_latency`: each side writes a line of its own and reads the other's, as a queue's
  head and tail are: the floor of any SPSC hand-off.
- `stamped_latency`: one message at a time across one line, stamped before the send and after
  the arrival with the engine's own fenced clock reads: the floor of the engine's paced tick
  latency as the engine measures it (push stamp to emit stamp).

A paced `Engine.run`'s latency is best read against `stamped_latency` measured just before
and after it (benches/bench_engine.py does so): on VMs the host can move the two vCPUs, and
the figures with them, from one minute to the next.
"""

from __future__ import annotations

from lobflow._core import C2cReport, core_to_core_latency, handoff_latency, stamped_latency

__all__ = ["C2cReport", "core_to_core_latency", "handoff_latency", "stamped_latency"]
