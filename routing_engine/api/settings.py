"""Every setting of the API in one place, read from ROUTING_ENGINE_* environment variables.

The defaults run a single process on a SQLite file next to the network file's working directory.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTING_ENGINE_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///routing-engine.db",
        description="sqlite:///FILE (one host) or postgresql+psycopg://USER@HOST/DB (several replicas).",
    )
    network: Path = Field(default=Path("network.json"), description="Problem-shaped JSON: the static network.")
    hold_ttl_s: float = Field(default=900.0, gt=0, description="Seconds a hold lives unless confirmed.")
    single_time_limit_s: float = Field(default=5.0, gt=0, description="Solver deadline for one order.")
    batch_time_limit_s: float = Field(default=30.0, gt=0, description="Solver deadline for a batch.")
    hold_attempts: int = Field(default=4, ge=1, description="Allocations on fresh stock before a 409.")
    max_orders_per_batch: int = Field(default=500, ge=1)
    max_lines_per_order: int = Field(default=200, ge=1)
    max_units_per_line: int = Field(default=1_000_000, ge=1)
    max_body_bytes: int = Field(default=4_000_000, ge=1024)
    sweep_interval_s: float = Field(default=30.0, ge=0, description="Expiry sweep period; 0 turns it off.")
    allocation_threads: int = Field(
        default=2,
        ge=1,
        description="Allocations a process computes at once; more wait their turn. Solving is CPU-bound "
        "Python: more threads only contend for the interpreter lock and cost CPU switching between them.",
    )
    db_pool_size: int = Field(default=10, ge=1, description="PostgreSQL connections per process.")
    auth_required: bool = Field(
        default=True, description="Every /v1 request needs an API key (`routing-engine keys create`)."
    )
    auth_cache_ttl_s: float = Field(
        default=5.0,
        ge=0,
        description="Seconds an accepted API key is trusted without a query; a revoke by another process "
        "(worker, CLI) takes effect within it. 0 checks every request.",
    )
    log_level: str = Field(default="INFO", description="Level of the service's JSON logs (INFO logs each request).")
