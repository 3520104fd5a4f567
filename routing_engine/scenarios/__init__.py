"""What-if scenarios: pure `problem -> problem` changes, scenario files (YAML) with variants and sweeps,
a parallel runner whose unit of work is `run_one(spec)`, and a comparison report with charts.
"""

from routing_engine.scenarios.changes import REGISTRY, Change, apply_changes, parse_change
from routing_engine.scenarios.errors import ScenarioFileError, UnknownChangeKind
from routing_engine.scenarios.runner import RunOutcome, run_all, run_one
from routing_engine.scenarios.spec import RunSpec, Scenario, load_scenario, parse_scenario

__all__ = [
    "REGISTRY",
    "Change",
    "RunOutcome",
    "RunSpec",
    "Scenario",
    "ScenarioFileError",
    "UnknownChangeKind",
    "apply_changes",
    "load_scenario",
    "parse_change",
    "parse_scenario",
    "run_all",
    "run_one",
]
