-- Amends reserve their increase before they are sent (exchange.ledger.amends).
--
-- reservations.filled_lots: the lots settled so far, so filled_lots + open_lots is the total
-- quantity in force (an amend's qty counts filled lots). Backfilled from the settled trades.
ALTER TABLE ledger.reservations
    ADD COLUMN filled_lots bigint NOT NULL DEFAULT 0 CHECK (filled_lots >= 0);

UPDATE ledger.reservations r
SET filled_lots = f.lots
FROM (
    SELECT order_id, sum(qty_lots) AS lots
    FROM (
        SELECT maker_order_id AS order_id, qty_lots FROM ledger.settled_trades
        UNION ALL
        SELECT taker_order_id, qty_lots FROM ledger.settled_trades
    ) fills
    GROUP BY order_id
) f
WHERE r.order_id = f.order_id;

-- The increase held for each amend until the engine answers it, keyed by the amend's command id
-- (reserving it again holds nothing more). Holding it moves available -> held like any hold
-- (journal kind AMEND_HOLD); OrderAmended makes it part of the order's hold (ADOPTED, no money
-- moves: it is held either way); a rejected amend or the order's final event gives it back
-- (RELEASED, held -> available). An account's held balance is the sum of its reservations, its
-- pending withdrawals and its PENDING amend holds.
CREATE TABLE ledger.amend_holds (
    command_id   text PRIMARY KEY,
    order_id     text NOT NULL REFERENCES ledger.reservations,
    account_id   text NOT NULL REFERENCES ledger.accounts,
    asset        text NOT NULL,
    price_ticks  bigint CHECK (price_ticks > 0),   -- the amend's new price; NULL: unchanged
    qty_lots     bigint CHECK (qty_lots > 0),      -- the amend's new total quantity; NULL: unchanged
    held         numeric(38, 18) NOT NULL CHECK (held >= 0),
    status       text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'ADOPTED', 'RELEASED')),
    symbol       text,                             -- the event that adopted or released it
    seq          bigint,
    created_at   timestamptz NOT NULL DEFAULT now(),
    resolved_at  timestamptz,
    CHECK ((status = 'PENDING') = (resolved_at IS NULL))
);
CREATE INDEX amend_holds_pending ON ledger.amend_holds (order_id) WHERE status = 'PENDING';
