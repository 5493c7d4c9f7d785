-- settlement: a claim of (symbol, seq) that finds the seq taken reads what holds it, to tell a
-- replay of the same event from a seq reused with other content (exchange.ledger.postgres.events).
GRANT SELECT (maker_order_id, taker_order_id, price_ticks, qty_lots)
    ON ledger.settled_trades TO exchange_settlement;
GRANT SELECT (kind, order_id) ON ledger.applied_events TO exchange_settlement;
