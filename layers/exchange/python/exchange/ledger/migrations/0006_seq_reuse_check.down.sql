REVOKE SELECT (maker_order_id, taker_order_id, price_ticks, qty_lots)
    ON ledger.settled_trades FROM exchange_settlement;
REVOKE SELECT (kind, order_id) ON ledger.applied_events FROM exchange_settlement;
