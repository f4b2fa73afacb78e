"""Run a module under cProfile counting CPU time (time.process_time), not wall time.

    python -m benchmarks.cpu_profile OUTPUT_FILE MODULE [ARGS...]

cProfile's default clock is the wall clock: in an asyncio service every await and, on a busy machine, every moment
the process waits for a core is charged to whatever was running. With the process's CPU clock the profile answers
"where do this service's cycles go", which is what a CPU-bound benchmark needs. The profile is written when the
service stops (SIGTERM runs its normal shutdown).
"""

from __future__ import annotations

import cProfile
import runpy
import sys
import time


def main() -> None:
    output, module, *rest = sys.argv[1:]
    sys.argv = [module, *rest]
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        profiler.disable()
        profiler.dump_stats(output)


if __name__ == "__main__":
    main()
