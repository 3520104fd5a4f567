"""The API's OpenAPI document, exported to `openapi.json` beside this file and kept in the repository.

Run `python -m routing_engine.api.openapi` after changing a route or a schema; a test checks it is current.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from routing_engine.api.main import create_app
from routing_engine.api.settings import Settings

EXPORTED = Path(__file__).with_name("openapi.json")


def document() -> dict[str, Any]:
    """The OpenAPI document as served at /openapi.json (no database needed)."""
    return create_app(Settings()).openapi()


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    EXPORTED.write_text(render())
