"""The load benchmark end to end on a handful of requests, so that its code keeps working.

Each run serves a fresh ledger with `routing-engine serve`, checks every answer and the ledger afterwards,
and writes its report. Only correctness is asserted here; timing is for the benchmark itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from benchmarks.load import LoadConfig, check_response, run, write_report
from benchmarks.load_wrk import available as wrk_available

HELD = {
    "status": "held",
    "orders": [{"lines": [{"quantity": 2}, {"quantity": 1}]}],
    "results": [{"packages": [{"lines": [{"quantity": 2}]}], "unfilled": [{"quantity": 1}]}],
    "holds": [{"quantity": 2, "status": "held"}],
}


def test_an_answer_counts_only_when_it_is_a_201_holding_exactly_what_its_result_decided() -> None:
    assert check_response(201, orjson.dumps(HELD)) is None
    assert check_response(409, orjson.dumps(HELD)) == "HTTP 409"
    assert check_response(201, b"not json") == "unreadable body: JSONDecodeError"
    short = HELD | {"holds": [{"quantity": 1, "status": "held"}]}
    assert check_response(201, orjson.dumps(short)) == "holds 1 != decided 2"
    lost = HELD | {"results": [{"packages": [{"lines": [{"quantity": 2}]}], "unfilled": []}]}
    assert check_response(201, orjson.dumps(lost)) == "decided 2 + unfilled 0 != asked 3"
    assert check_response(201, orjson.dumps(HELD | {"status": "expired"})) == "status expired"


@pytest.mark.parametrize(
    ("db", "kind", "driver"),
    [
        pytest.param("sqlite", "single", "httpx", id="sqlite-single"),
        pytest.param("sqlite", "batch", "httpx", id="sqlite-batch"),
        pytest.param("postgres", "single", "httpx", id="postgres-single", marks=pytest.mark.postgres),
        pytest.param("sqlite", "single", "wrk", id="sqlite-single-wrk"),
    ],
)
def test_a_short_load_run_answers_every_request_with_its_holds_and_leaves_a_consistent_ledger(
    db: str, kind: str, driver: str, tmp_path: Path
) -> None:
    if driver == "wrk" and not wrk_available():
        pytest.skip("wrk is not installed")
    if db == "postgres":
        from routing_engine.ledger.testing import postgres_reachable

        if (problem := postgres_reachable()) is not None:
            pytest.skip(f"PostgreSQL is unreachable: {problem}")
    config = LoadConfig(
        db=db,  # type: ignore[arg-type]
        kind=kind,  # type: ignore[arg-type]
        driver=driver,  # type: ignore[arg-type]
        requests=12 if kind == "single" else 3,
        concurrency=3,
        duration_s=60 if driver == "httpx" else 4,  # wrk always runs its whole duration
        warmup=3,
        workers=1,
        batch_size=3,
    )
    result = run(config)
    assert result.errors == {}
    assert result.ledger_problems == []
    if driver == "httpx":
        assert result.requests_ok == config.requests
        assert result.held_allocations == config.warmup + config.requests
    else:  # how many answers wrk gets in its time depends on the machine; each one was checked
        assert 1 <= result.requests_ok <= config.requests
        assert result.held_allocations >= config.warmup + result.requests_ok
    written = write_report(result, tmp_path)
    assert json.loads(written.read_text())["requests_ok"] == result.requests_ok
    table = (tmp_path / "results.md").read_text()
    assert f"| {db}-{kind} | {db} | {kind} | {driver} |" in table
