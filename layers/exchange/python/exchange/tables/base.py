"""The base of every table model: its table name and place are bound at start-up
(``exchange.tables.bind_tables``), never at import."""

from typing import ClassVar

from pynamodb.models import Model


class _Meta:
    """Each model has its own Meta (a shared one would share the table name)."""

    table_name: str = "unbound"
    region: str | None = None
    host: str | None = None


class _Table(Model):
    """A model whose table name is bound at start-up (``bind_tables``), never at import."""

    logical_name: ClassVar[str]
    ttl_attribute: ClassVar[str | None] = None

    class Meta(_Meta):
        pass
