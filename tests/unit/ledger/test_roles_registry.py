"""Each function that needs the ledger has its database role, created by the migrations, and
only those roles are given logins (``exchange.ledger.roles``): locally and in AWS alike, the
catalog's function -> role mapping (``database_role``) finds a role the migrations made."""

import re
from importlib import resources

import pytest

from exchange.ledger.roles import MIGRATED_ROLES, UnknownRole, grant_logins
from exchange.settings import database_role
from lambdas.catalog import FUNCTIONS, Need


def created_by_migrations() -> set[str]:
    """The roles the up migrations' ``CREATE ROLE`` loops name."""
    folder = resources.files("exchange.ledger.migrations")
    names: set[str] = set()
    for entry in folder.iterdir():
        if entry.name.endswith(".up.sql"):
            for listed in re.findall(
                r"FOREACH role_name IN ARRAY ARRAY\[(.*?)\]", entry.read_text(), re.S
            ):
                names.update(re.findall(r"'(exchange_\w+)'", listed))
    return names


def test_every_ledger_function_of_the_catalog_has_a_migrated_role() -> None:
    ledger_functions = {
        database_role(name) for name, spec in FUNCTIONS.items() if Need.LEDGER in spec.needs
    }
    assert {"exchange_admin", "exchange_reconciliation", "exchange_dividends"} <= ledger_functions
    assert ledger_functions == MIGRATED_ROLES


def test_the_migrations_create_exactly_the_registered_roles() -> None:
    assert created_by_migrations() == MIGRATED_ROLES


class NoDatabase:
    def transaction(self) -> object:
        raise AssertionError("nothing may reach the database")


@pytest.mark.parametrize("role", ["exchange_nobody", "postgres", "exchange_admin; DROP ROLE x"])
def test_grant_logins_refuses_a_role_that_is_no_functions_before_touching_the_database(
    role: str,
) -> None:
    with pytest.raises(UnknownRole):
        grant_logins(NoDatabase(), {role: None})  # type: ignore[arg-type]
