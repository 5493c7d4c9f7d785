"""Unconditional puts to several tables in shared ``BatchWriteItem`` requests.

pynamodb's ``Model.batch_write`` writes one table per request; a consumer that writes a record's
rows to three tables made three requests where one carries them all. ``BatchWriteItem`` takes up
to 25 put or delete requests, across tables, in one call; it may leave some unprocessed (under
throttling), which are sent again with exponential backoff, as AWS asks
(https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html).
Each item is billed as its own write, so batching saves requests and latency, not write units.
"""

import random
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

from pynamodb.connection import Connection
from pynamodb.exceptions import PutError
from pynamodb.models import Model

from exchange.tables.connections import transaction_connection

MAX_BATCH_ITEMS: Final = 25
_ATTEMPTS: Final = 8
_BACKOFF_S: Final = 0.05


def batch_put(
    rows: Sequence[Model],
    *,
    connection: Callable[[type[Model]], Connection] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Put every row (whatever its model), 25 to a request; raises PutError when some are still
    unprocessed after the retries. The rows' tables must share a region and endpoint."""
    if not rows:
        return
    connect = connection or transaction_connection
    places = {(type(row).Meta.region, type(row).Meta.host) for row in rows}
    if len(places) > 1:
        raise ValueError(f"one batch writes to one region and endpoint, not {sorted(places)}")
    client = connect(type(rows[0]))
    for start in range(0, len(rows), MAX_BATCH_ITEMS):
        requests: dict[str, list[dict[str, Any]]] = {}
        for row in rows[start : start + MAX_BATCH_ITEMS]:
            table = type(row).Meta.table_name
            requests.setdefault(table, []).append({"PutRequest": {"Item": row.serialize()}})
        _send(client, requests, sleep)


def _send(
    client: Connection, requests: dict[str, list[dict[str, Any]]], sleep: Callable[[float], None]
) -> None:
    for attempt in range(_ATTEMPTS):
        answer = client.dispatch("BatchWriteItem", {"RequestItems": requests})
        requests = (answer or {}).get("UnprocessedItems") or {}
        if not requests:
            return
        if attempt < _ATTEMPTS - 1:
            sleep(_BACKOFF_S * 2**attempt * random.uniform(0.5, 1.5))  # noqa: S311 - jitter
    left = sum(len(items) for items in requests.values())
    raise PutError(f"{left} items unprocessed after {_ATTEMPTS} BatchWriteItem attempts")
