"""The notifications table: one item per notice emailed, so SNS's and SQS's at-least-once delivery
sends each notice at most once.

- notifications: pk ``notice_id`` (the notice's own id: ``fill#<symbol>#<seq>#<account>``,
  ``ledger#<outbox id>``, ``security#<event id>``). The emailer writes it with a condition that it
  does not exist before it sends; an item whose send failed is deleted so a redelivery sends it.
  ``expires_at`` (TTL) drops it after the queues' retention has long passed.
"""

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute

from exchange.tables.base import _Meta, _Table


class NotificationRecord(_Table):
    logical_name = "notifications"
    ttl_attribute = "expires_at"

    class Meta(_Meta):
        pass

    notice_id = UnicodeAttribute(hash_key=True)
    account_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    status = UnicodeAttribute()  # SENDING, SENT or SKIPPED (the preference was off)
    message_id = UnicodeAttribute(null=True)  # SES's MessageId once sent
    created_ns = NumberAttribute()
    expires_at = TTLAttribute()
