"""routing-engine: jointly optimal order routing and allocation over live stock.

`allocate(problem, options)` is the pure entry point; `Problem` and `AllocationResult` are the schema.
"""

from routing_engine.allocate import AllocateOptions, allocate
from routing_engine.errors import ProblemError
from routing_engine.model import AllocationResult, Problem

__all__ = ["AllocateOptions", "AllocationResult", "Problem", "ProblemError", "allocate"]
