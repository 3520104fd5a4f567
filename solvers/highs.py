"""HiGHS through its own Python interface, for what MathOpt does not pass on to it.

MathOpt's HiGHS interface drops solution hints, so the MIP's warm start and the large-batch master
(incremental columns, a starting solution for each neighbourhood) talk to HiGHS directly.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import highspy
import numpy as np
from highspy.highs import HighsCallbackEvent
from ortools.math_opt import model_pb2

from solvers.problem import FloatArray


def _fresh_scheduler() -> None:
    highspy.Highs.resetGlobalScheduler(True)


# A forked child inherits HiGHS's thread pool without its threads, and would wait on them forever.
os.register_at_fork(after_in_child=_fresh_scheduler)


T = TypeVar("T")


def in_child(work: Callable[[], T], seconds: float) -> T | None:
    """`work()` in a forked process that is stopped after `seconds`: HiGHS does not always stop in time
    by itself (its presolve and root node reach neither its time limit nor the interrupt callbacks for
    seconds on some models). None if it was stopped or died; the caller's HiGHS instances are untouched."""
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)

    def run() -> None:
        send.send(work())
        send.close()

    child = ctx.Process(target=run, daemon=True)
    child.start()
    send.close()
    try:
        if not receive.poll(max(0.0, seconds)):
            return None
        answer: T = receive.recv()
        return answer
    except EOFError:  # the child died without an answer
        return None
    finally:
        if child.is_alive():
            child.kill()
        child.join()


@contextmanager
def _quiet_stdout() -> Iterator[None]:
    """HiGHS prints a banner on stdout when its first instance is made; keep the CLI's output clean."""
    saved = os.dup(1)
    with open(os.devnull, "w") as sink:
        os.dup2(sink.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)


class _Deadline:
    """Stops a run at a wall-clock time from inside HiGHS's simplex, interior point and MIP loops, which
    its own time limit does not always reach in time (a large root LP, for one)."""

    def __init__(self) -> None:
        self.at = float("inf")

    def __call__(self, event: HighsCallbackEvent) -> None:
        event.interrupt(time.perf_counter() > self.at)  # set either way: HiGHS keeps the flag between runs


class _GuardedHighs(highspy.Highs):
    def __init__(self) -> None:
        super().__init__()
        self.deadline = _Deadline()
        self.cbSimplexInterrupt += self.deadline
        self.cbIpmInterrupt += self.deadline
        self.cbMipInterrupt += self.deadline


def new_highs() -> highspy.Highs:
    """A silent HiGHS instance that stops at the time limit given by `set_time_limit`."""
    with _quiet_stdout():
        h = _GuardedHighs()
    h.setOptionValue("output_flag", False)
    return h


def set_time_limit(h: highspy.Highs, seconds: float) -> None:
    """Stop the next run after `seconds` (HiGHS counts its own limit over every run of the instance)."""
    h.setOptionValue("time_limit", h.getRunTime() + max(0.05, seconds))
    if isinstance(h, _GuardedHighs):
        h.deadline.at = time.perf_counter() + max(0.05, seconds)


def run_from(h: highspy.Highs, start: FloatArray | None, cost: FloatArray) -> None:
    """Run the MIP in `h` from a starting solution (HiGHS checks it and keeps it if feasible).

    When presolve settles the whole model, HiGHS can hand back the start itself while reporting the
    optimum's value; then the run is repeated without the start. `cost` is the objective per column.
    """
    if start is not None:
        given = highspy.HighsSolution()
        given.col_value = np.asarray(start, dtype=float).tolist()
        given.value_valid = True
        h.setSolution(given)
    h.run()
    if start is None or not h.getSolution().value_valid:
        return
    values = np.asarray(h.getSolution().col_value)
    reported = h.getInfo().objective_function_value - h.getLp().offset_
    if abs(float(cost @ values) - reported) > 1e-6 * max(1.0, abs(reported)):
        h.clearSolver()
        h.run()


def from_proto(proto: model_pb2.ModelProto) -> highspy.Highs:
    """A HiGHS instance holding the MathOpt model `proto` (a minimisation)."""
    h = new_highs()
    n, m = len(proto.variables.ids), len(proto.linear_constraints.ids)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, m
    cost = np.zeros(n)
    objective = proto.objective.linear_coefficients
    cost[np.asarray(objective.ids, dtype=np.int64)] = objective.values
    lp.col_cost_ = cost
    lp.offset_ = proto.objective.offset
    lp.col_lower_ = np.asarray(proto.variables.lower_bounds, dtype=float)
    lp.col_upper_ = np.asarray(proto.variables.upper_bounds, dtype=float)
    lp.row_lower_ = np.asarray(proto.linear_constraints.lower_bounds, dtype=float)
    lp.row_upper_ = np.asarray(proto.linear_constraints.upper_bounds, dtype=float)
    rows = np.asarray(proto.linear_constraint_matrix.row_ids, dtype=np.int64)  # row-major in the proto
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = np.r_[0, np.cumsum(np.bincount(rows, minlength=m))].astype(np.int32)
    lp.a_matrix_.index_ = np.asarray(proto.linear_constraint_matrix.column_ids, dtype=np.int32)
    lp.a_matrix_.value_ = np.asarray(proto.linear_constraint_matrix.coefficients, dtype=float)
    kinds = (highspy.HighsVarType.kContinuous, highspy.HighsVarType.kInteger)
    lp.integrality_ = [kinds[int(i)] for i in proto.variables.integers]
    h.passModel(lp)
    return h
