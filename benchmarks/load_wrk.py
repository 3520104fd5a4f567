"""The load benchmark's second driver: wrk (C, from Debian's `wrk` package) with a Lua script.

wrk spends a few microseconds of CPU per request where the httpx client spends a millisecond or more, so
on a small machine it leaves the cores to the server. Its script checks each status and that the answer
is held; the holds themselves are checked in the ledger afterwards (`load.check_allocations`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

#: Each wrk thread sends its share of the bodies (thread i: bodies i, i + T, ...), stops once it has that
#: many answers, and counts answers that are not a 201 holding the allocation. wrk itself always runs for
#: its whole duration, so the script times its first request and last answer (LuaJIT FFI, CLOCK_MONOTONIC).
SCRIPT = r"""
local ffi = require("ffi")
ffi.cdef[[
  typedef struct { long tv_sec; long tv_nsec; } timespec;
  int clock_gettime(int clk_id, timespec *tp);
]]
local ts = ffi.new("timespec")
local function now()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

-- Globals, not locals: done() reads each thread's counts with thread:get().
threads = {}
bodies, next_body, answered, quota = {}, 1, 0, 0
bad_status, not_held, first_sent, last_answer = 0, 0, 0, 0

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local path, count, stride = args[1], tonumber(args[2]), tonumber(args[3])
  local i = 0
  for line in io.lines(path) do
    if i % stride == id then table.insert(bodies, line) end
    i = i + 1
  end
  quota = math.min(count, #bodies)
  wrk.method = "POST"
  wrk.path = args[4]
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. args[5]
end

function request()
  if first_sent == 0 then first_sent = now() end
  local body = bodies[next_body]
  next_body = next_body % #bodies + 1
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if answered >= quota then return end  -- an answer after the thread stopped counting
  answered = answered + 1
  last_answer = now()
  if status ~= 201 then
    bad_status = bad_status + 1
  elseif not string.find(body, '"status":"held"', 1, true) then
    not_held = not_held + 1
  end
  if answered >= quota then wrk.thread:stop() end
end

function done(summary, latency, requests)
  local answered_all, bad, held, started, finished = 0, 0, 0, math.huge, 0
  for _, thread in ipairs(threads) do
    answered_all = answered_all + thread:get("answered")
    bad = bad + thread:get("bad_status")
    held = held + thread:get("not_held")
    started = math.min(started, thread:get("first_sent"))
    finished = math.max(finished, thread:get("last_answer"))
  end
  local e = summary.errors
  io.write(string.format(
    'WRKRESULT {"wall_s": %.6f, "requests": %d, "answered": %d, "bad_status": %d, "not_held": %d, ' ..
    '"connect": %d, "read": %d, "write": %d, "timeout": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "mean_us": %.1f, "max_us": %d}\n',
    finished - started, summary.requests, answered_all, bad, held, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
"""


@dataclass(frozen=True)
class WrkOutcome:
    answered: int
    errors: Counter[str]
    wall_s: float
    latency_ms: dict[str, float]


def available() -> bool:
    return shutil.which("wrk") is not None


def drive_wrk(
    url: str,
    token: str,
    path: str,
    bodies: Sequence[bytes],
    *,
    requests: int,
    concurrency: int,
    duration_s: float,
    directory: Path,
    threads: int = 1,
) -> WrkOutcome:
    """Run wrk with `concurrency` connections for `duration_s` seconds, counting at most `requests` answers
    (wrk always runs its whole duration; the answers past the count are not counted)."""
    if not available():
        raise RuntimeError("wrk is not installed (Debian: apt-get install wrk)")
    bodies_file, script = directory / "bodies.ndjson", directory / "allocate.lua"
    bodies_file.write_bytes(b"\n".join(bodies) + b"\n")
    script.write_text(SCRIPT)
    per_thread = -(-requests // threads)
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{concurrency}",
        f"-d{max(1, round(duration_s))}s",
        "--timeout",
        "60s",
        "-s",
        str(script),
        url,
        "--",
        str(bodies_file),
        str(per_thread),
        str(threads),
        path,
        token,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=duration_s + 120)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRKRESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    r = json.loads(line.removeprefix("WRKRESULT "))
    errors: Counter[str] = Counter()
    for name, count in (("HTTP status not 201", r["bad_status"]), ("201 but not held", r["not_held"])):
        if count:
            errors[name] = count
    for kind in ("connect", "read", "write", "timeout"):
        if r[kind]:
            errors[f"transport: {kind}"] = r[kind]
    good = r["answered"] - r["bad_status"] - r["not_held"]
    return WrkOutcome(
        answered=good,
        errors=errors,
        wall_s=r["wall_s"],
        latency_ms={
            "p50": r["p50_us"] / 1000,
            "p90": r["p90_us"] / 1000,
            "p99": r["p99_us"] / 1000,
            "mean": round(r["mean_us"] / 1000, 3),
            "max": r["max_us"] / 1000,
        },
    )
