"""The ledger's session database and its roles (the ledger tests' fixtures), for the emailer's
and the relay's own database roles."""

from tests.integration.ledger.conftest import (  # noqa: F401 - pytest finds fixtures by name
    as_role,
    fresh_database,
    ledger,
    pool,
    role_url,
)
