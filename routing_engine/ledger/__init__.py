"""The live stock ledger: stock, inbound, atomic allocate-and-hold, hold lifecycle and the journal.

SQLite (a file, WAL) by default, PostgreSQL by DSN; `upgrade` migrates, `seed` loads a network file.
"""

from routing_engine.ledger.context import Ledger
from routing_engine.ledger.db import connect
from routing_engine.ledger.journal import check, rebuild
from routing_engine.ledger.migrate import upgrade
from routing_engine.ledger.network import load_network, seed

__all__ = ["Ledger", "check", "connect", "load_network", "rebuild", "seed", "upgrade"]
