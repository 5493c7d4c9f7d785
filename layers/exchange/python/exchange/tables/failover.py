"""The failover fence's table: one item saying which region may match (``engine_service.fence``;
the failover state machine writes it)."""

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from exchange.tables.base import _Meta, _Table


class FailoverRecord(_Table):
    """Which region may match: the fence between the primary and the DR region (one item,
    ``scope`` = ``"exchange"``). An engine journals only while ``active_region`` is its own
    region, and stamps ``epoch`` on every journal record; a failover or failback moves
    ``active_region`` and adds one to ``epoch`` in one conditional write. No item: the primary
    region is active at epoch 0 (a deployment that never failed over)."""

    logical_name = "failover"

    class Meta(_Meta):
        pass

    scope = UnicodeAttribute(hash_key=True)
    active_region = UnicodeAttribute()
    epoch = NumberAttribute()
    updated_ns = NumberAttribute()
    reason = UnicodeAttribute(default="")
