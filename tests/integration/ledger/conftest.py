"""A fresh PostgreSQL database per test session (``ledger_test_<random>``), migrated to head and
dropped afterwards. Each test gets its own fee account, and makes its own user accounts, so tests
never see each other's money."""

import secrets
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg_pool import ConnectionPool

from exchange.domain import InstrumentCatalog
from exchange.ledger import migrations
from exchange.ledger.connection import open_pool
from exchange.ledger.payouts_port import DestinationKind, NewDestination, WithdrawalsPort
from exchange.ledger.postgres import PostgresLedger
from exchange.ledger.roles import grant_logins
from exchange.settings import DEFAULT_ASSET_SCALES, database_role
from lambdas.catalog import FUNCTIONS, Need
from tests.unit.ledger.helpers import CATALOG

# Each function's database role (``exchange.ledger.roles``).
LEDGER_ROLES = sorted(
    database_role(name) for name, spec in FUNCTIONS.items() if Need.LEDGER in spec.needs
)


def _create_database(admin_url: str, name: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_conninfo(admin_url, dbname=name)


def _drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session")
def fresh_database(postgres_url: str) -> Iterator[str]:
    """A factory-made empty database; yields its conninfo."""
    name = f"ledger_test_{secrets.token_hex(4)}"
    url = _create_database(postgres_url, name)
    try:
        yield url
    finally:
        _drop_database(postgres_url, name)


@pytest.fixture(scope="session")
def empty_database(postgres_url: str) -> Iterator[str]:
    """A second empty database, for the migration tests alone."""
    name = f"ledger_test_{secrets.token_hex(4)}_mig"
    url = _create_database(postgres_url, name)
    try:
        yield url
    finally:
        _drop_database(postgres_url, name)


@pytest.fixture(scope="session")
def pool(fresh_database: str) -> Iterator[ConnectionPool]:
    with psycopg.connect(fresh_database) as conn:
        migrations.upgrade(conn)
    pool = open_pool(lambda: fresh_database, min_size=1, max_size=10)
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def ledger(pool: ConnectionPool) -> PostgresLedger:
    ledger = make_ledger(pool, CATALOG)
    ledger.bootstrap()
    return ledger


def make_ledger(pool: ConnectionPool, catalog: InstrumentCatalog) -> PostgresLedger:
    return PostgresLedger(
        pool,
        instruments=catalog,
        asset_scales=DEFAULT_ASSET_SCALES,
        fee_account_id=f"fees-{uuid.uuid4().hex[:12]}",
    )


def total(pool: ConnectionPool, asset: str) -> Decimal:
    """The sum of ``asset`` over every balance in the database."""
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT coalesce(sum(available + held), 0) FROM ledger.balances WHERE asset = %s",
            (asset,),
        ).fetchone()
    assert row is not None
    value = row[0]
    assert isinstance(value, Decimal)
    return value


@pytest.fixture(scope="session")
def role_url(pool: ConnectionPool, fresh_database: str) -> Callable[[str], str]:
    """Every role may log in (trust authentication here, as locally); a URL per role."""
    with psycopg.connect(fresh_database) as conn:
        assert grant_logins(conn, dict.fromkeys(LEDGER_ROLES)) == LEDGER_ROLES
    return lambda role: make_conninfo(fresh_database, user=role)


@pytest.fixture
def as_role(role_url: Callable[[str], str]) -> Iterator[Callable[[str], ConnectionPool]]:
    """A pool connected as a function's role (closed after the test)."""
    pools: list[ConnectionPool] = []

    def connect(role: str) -> ConnectionPool:
        url = role_url(role)
        pools.append(open_pool(lambda: url, min_size=0, max_size=2, name=role))
        return pools[-1]

    yield connect
    for opened in pools:
        opened.close()


def ledger_as(
    pool: ConnectionPool, fee_account_id: str, catalog: InstrumentCatalog = CATALOG
) -> PostgresLedger:
    return PostgresLedger(
        pool, instruments=catalog, asset_scales=DEFAULT_ASSET_SCALES, fee_account_id=fee_account_id
    )


def destination(
    ledger: WithdrawalsPort,
    account_id: str,
    asset: str,
    *,
    delay: timedelta = timedelta(0),
    address: str | None = None,
) -> str:
    """Add a destination of ``account_id`` for ``asset`` (usable at once by default); its id."""
    destination_id = f"dst-{uuid.uuid4().hex[:12]}"
    ledger.add_destination(
        NewDestination(
            destination_id,
            account_id,
            asset,
            DestinationKind.ADDRESS,
            address or f"addr-{destination_id}",
            "test",
        ),
        delay=delay,
    )
    return destination_id
