"""A PostgreSQL database for tests: a fresh database per test session on a local server
(``$RUSHLINE_TEST_PG``, else the local socket, else 127.0.0.1:5432), one fresh schema
per test; tests skip with the reason when no server answers."""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

import pytest

CANDIDATES = (
    "postgresql:///postgres",
    "postgresql://postgres@127.0.0.1:5432/postgres",
)


def admin_url() -> tuple[str | None, str]:
    """The first reachable server URL and, when none is, the reason."""
    import psycopg

    wanted = os.environ.get("RUSHLINE_TEST_PG")
    reasons = []
    for url in (wanted,) if wanted else CANDIDATES:
        try:
            with psycopg.connect(url, connect_timeout=3):
                return url, ""
        except psycopg.Error as exc:
            reasons.append(f"{url}: {str(exc).strip().splitlines()[0]}")
    return None, "no PostgreSQL server reachable (set RUSHLINE_TEST_PG): " + "; ".join(reasons)


def with_database(url: str, database: str, schema: str | None = None) -> str:
    """``url`` pointing at ``database`` (and ``schema`` as the search path)."""
    parts = urlsplit(url)
    query = [q for q in parts.query.split("&") if q and not q.startswith("options=")]
    if schema is not None:
        query.append("options=" + quote(f"-csearch_path={schema}", safe=""))
    # Built by hand: urlunsplit drops the empty host of a socket URL (postgresql:///db).
    tail = f"?{'&'.join(query)}" if query else ""
    return f"{parts.scheme}://{parts.netloc}/{database}{tail}"


@dataclass
class PgDatabase:
    """A throw-away database on the server at ``admin``; ``fresh_schema()`` per test."""

    admin: str
    name: str = field(default_factory=lambda: f"rushline_test_{secrets.token_hex(4)}")
    _schemas: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        """The database's URL (public schema)."""
        return with_database(self.admin, self.name)

    def create(self) -> PgDatabase:
        """Create the database (C collation: text sorts by bytes, as in SQLite)."""
        import psycopg

        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(
                f"CREATE DATABASE \"{self.name}\" TEMPLATE template0 ENCODING 'UTF8' "
                "LC_COLLATE 'C' LC_CTYPE 'C'"
            )
        return self

    def fresh_schema(self) -> str:
        """A new empty schema; returns a URL whose search path is that schema."""
        import psycopg

        schema = f"t{next(self._schemas)}_{secrets.token_hex(3)}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        return with_database(self.admin, self.name, schema)

    def drop(self) -> None:
        """Drop the database, ending any connection left open."""
        import psycopg

        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


# --- pytest wiring: the central tests run on SQLite and on PostgreSQL -----------------

# The PostgreSQL URL of the test now running when its backend is "postgres" (the central
# helpers read it through ``central_db_url``).
_active: list[str] = []

# In-process central fixtures: cheap, every test using them runs on both backends.
APP_FIXTURES = ("app", "central_app")
# The subprocess server costs seconds per start: only these tests also run on PostgreSQL.
SERVER_TESTS = frozenset(
    {
        "test_push_pull_round_trip",
        "test_server_restart_and_crash_keep_data",
    }
)
PARAMETRISED_DIRS = ("tests/central/", "tests/sync/")
# About the page in a browser, not the store: SQLite only.
SQLITE_ONLY = ("tests/central/test_track_browser.py",)


def central_db_url(sqlite_path: object) -> str:
    """The database the central helpers should open: this test's PostgreSQL schema when
    its backend is "postgres", else the SQLite file ``sqlite_path``."""
    return _active[-1] if _active else f"sqlite:///{sqlite_path}"


def wants_both_backends(nodeid: str, function_name: str, fixturenames: list[str]) -> bool:
    """Whether a test runs on SQLite and PostgreSQL (see APP_FIXTURES, SERVER_TESTS)."""
    path = nodeid.replace("\\", "/")
    if not path.startswith(PARAMETRISED_DIRS) or path.startswith(SQLITE_ONLY):
        return False
    if any(name in fixturenames for name in APP_FIXTURES):
        return True
    return "central_server" in fixturenames and function_name in SERVER_TESTS


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise ``central_backend`` over sqlite/postgres for the tests chosen above."""
    if "central_backend" in metafunc.fixturenames and wants_both_backends(
        metafunc.definition.nodeid, metafunc.function.__name__, metafunc.fixturenames
    ):
        metafunc.parametrize(
            "central_backend",
            ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
            indirect=True,
        )


@pytest.fixture(scope="session")
def pg_database() -> Iterator[PgDatabase]:
    """A fresh PostgreSQL database for this test session (skips when none is reachable)."""
    url, reason = admin_url()
    if url is None:
        pytest.skip(reason)
    database = PgDatabase(url).create()
    try:
        yield database
    finally:
        database.drop()


@pytest.fixture
def pg_url(pg_database: PgDatabase) -> str:
    """A URL of a fresh, empty schema in the session's PostgreSQL database."""
    return pg_database.fresh_schema()


@pytest.fixture(autouse=True)
def central_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """The central store backend of this test: "sqlite" unless parametrised."""
    backend = str(getattr(request, "param", "sqlite"))
    if backend != "postgres":
        yield backend
        return
    _active.append(request.getfixturevalue("pg_url"))
    try:
        yield backend
    finally:
        _active.pop()
