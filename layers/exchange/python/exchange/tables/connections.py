"""One pynamodb ``Connection`` per region and endpoint, for what goes around the models."""

import functools

from pynamodb.connection import Connection
from pynamodb.models import Model


@functools.cache
def _shared_connection(region: str | None, host: str | None) -> Connection:
    return Connection(region=region, host=host)


def transaction_connection(model: type[Model]) -> Connection:
    """The connection a ``TransactWrite`` or ``TransactGet`` on ``model``'s table goes through:
    one per region and endpoint for the process, so its botocore client is made once (a client
    costs milliseconds to make: it loads the service model; pynamodb's model methods already
    share theirs). Follows ``bind_tables``: a rebound model gets the connection of its new place.
    """
    return _shared_connection(model.Meta.region, model.Meta.host)
