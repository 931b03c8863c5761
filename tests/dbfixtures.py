"""The store tests' database fixtures, for the tool, API and integration tests too.

``tests/store/conftest.py`` defines them (every test on SQLite and on a throwaway PostgreSQL
database); a conftest elsewhere re-exports them with ``from dbfixtures import ...``. Loaded by path
under a name of its own, since every conftest module is called "conftest".
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_STORE_TESTS = Path(__file__).resolve().parent / "store"
if str(_STORE_TESTS) not in sys.path:
    sys.path.append(str(_STORE_TESTS))  # its conftest imports throwaway_pg from beside it

_spec = importlib.util.spec_from_file_location("voxgate_tests_store_fixtures", _STORE_TESTS / "conftest.py")
assert _spec is not None and _spec.loader is not None
_store = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_store)

backend = _store.backend
db_url = _store.db_url
migrated_url = _store.migrated_url
engine = _store.engine
sessions = _store.sessions
pg_prefix = _store.pg_prefix
require_postgres = _store.require_postgres

__all__ = ["backend", "db_url", "engine", "migrated_url", "pg_prefix", "require_postgres", "sessions"]
