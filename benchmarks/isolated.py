"""One solver run in a fresh interpreter (multiprocessing "spawn"), timed and with its own peak memory.

The compiled problem reaches the child as a pickle file; the child sends back the `Solution`, the wall
time of `solvers.solve` and its peak memory, so no run inherits another's memory or caches.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import resource
import signal
import sys
import time
import traceback
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Literal

from solvers import CompiledProblem, Solution, solve

RunStatus = Literal["ok", "error", "timeout", "crashed"]

#: Seconds between two samples of the memory of a run's process tree.
SAMPLE_S = 0.25
_KIB_PER_MAXRSS = 1.0 / 1024.0 if sys.platform == "darwin" else 1.0  # ru_maxrss: bytes on macOS, KiB elsewhere


@dataclass(frozen=True)
class RunOutcome:
    """What one isolated run gave: a solution, or why there is none."""

    status: RunStatus
    solution: Solution | None
    runtime_s: float  # wall time of `solvers.solve` in the child (model building included)
    peak_mem_mb: float | None  # peak memory of the child and the processes it started (see `run_isolated`)
    error: str = ""


def _status_kib(pid: int | str, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def own_peak_mb() -> float:
    """Peak resident memory of this process and of the largest child it waited for, in MiB.

    On Linux this process's own peak is VmHWM, which belongs to its own address space: `ru_maxrss` of
    RUSAGE_SELF would carry the parent's high-water mark across fork + exec, so every spawned child would
    report the harness's peak. A child the solver forks (and waits for) shows in RUSAGE_CHILDREN.
    """
    hwm = _status_kib("self", "VmHWM:")
    if hwm is None:
        hwm = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * _KIB_PER_MAXRSS)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * _KIB_PER_MAXRSS
    return max(hwm, children) / 1024.0


def tree_pss_mb(pid: int) -> float | None:
    """Memory in use now by process `pid` and all its descendants: the sum of their proportional set
    sizes (shared pages split between the processes sharing them). None where /proc does not tell."""
    total, seen, stack = 0, False, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        seen = True
                        break
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    stack.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError):
            continue  # the process ended meanwhile, or /proc lacks these files
    return total / 1024.0 if seen else None


def _child(conn: Connection, problem_file: str, solver: str, time_limit_s: float, seed: int, backend: str) -> None:
    try:
        with open(problem_file, "rb") as fh:
            cp: CompiledProblem = pickle.load(fh)
        start = time.perf_counter()
        sol = solve(cp, solver, time_limit_s=time_limit_s, seed=seed, backend=backend)
        runtime = time.perf_counter() - start
        conn.send(RunOutcome("ok", sol, runtime, own_peak_mb()))
    except BaseException as exc:  # the parent records it; it must not hang waiting
        text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        conn.send(RunOutcome("error", None, 0.0, own_peak_mb(), f"{text}\n{traceback.format_exc(limit=-3)}"))
    finally:
        conn.close()


def run_isolated(
    problem_file: Path, solver: str, *, time_limit_s: float, seed: int, backend: str, hard_timeout_s: float
) -> RunOutcome:
    """Solve the pickled problem in `problem_file` with `solver` in a fresh process.

    Peak memory is the largest of: the child's own peak, the peak of the largest process it forked and
    waited for, and the total memory of the child and its descendants sampled every `SAMPLE_S` seconds
    (so a solver that works in forked processes is counted in full). A child still running after
    `hard_timeout_s` (the solver ignored its deadline) is killed and reported as "timeout"; one that dies
    (e.g. out of memory) as "crashed".
    """
    ctx = multiprocessing.get_context("spawn")
    parent_end, child_end = ctx.Pipe(duplex=False)
    args = (child_end, str(problem_file), solver, time_limit_s, seed, backend)
    proc = ctx.Process(target=_child, args=args, name=f"bench-{solver}")
    start = time.perf_counter()
    proc.start()
    child_end.close()  # so a child that dies shows as end-of-file here
    sampled: float | None = None
    finished = False
    try:
        # Read before joining: a large solution would block the child on a full pipe.
        while not parent_end.poll(SAMPLE_S):
            now = tree_pss_mb(proc.pid) if proc.pid is not None else None
            if now is not None:
                sampled = max(sampled or 0.0, now)
            if time.perf_counter() - start > hard_timeout_s:
                return RunOutcome(
                    "timeout", None, time.perf_counter() - start, sampled, f"killed after {hard_timeout_s:.0f} s"
                )
        try:
            outcome: RunOutcome = parent_end.recv()
        except EOFError:
            proc.join(5.0)
            return RunOutcome(
                "crashed", None, time.perf_counter() - start, sampled, f"process exited with code {proc.exitcode}"
            )
        finished = True
        peaks = [p for p in (outcome.peak_mem_mb, sampled) if p is not None]
        return replace(outcome, peak_mem_mb=max(peaks) if peaks else None)
    finally:
        parent_end.close()
        if finished:
            proc.join(10.0)
        if proc.is_alive():  # timed out, or the harness itself is being stopped
            _kill_tree(proc.pid)
            proc.kill()
            proc.join()


def _kill_tree(pid: int | None) -> None:
    """Kill the descendants of `pid` (a solver's own worker processes), deepest first."""
    if pid is None:
        return
    found: list[int] = []
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    kids = [int(c) for c in fh.read().split()]
                found.extend(kids)
                stack.extend(kids)
        except (OSError, ValueError):
            continue
    for child in reversed(found):
        with contextlib.suppress(OSError):  # it may have ended meanwhile
            os.kill(child, signal.SIGKILL)
