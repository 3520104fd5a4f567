"""The HTTP API of the allocation service (FastAPI): allocations, stock, inbound, nodes, journal, health.

`create_app(settings)` builds it; `routing-engine serve` runs it under uvicorn.
"""
