-- The ledger: accounts, balances, an append-only double-entry journal, order holds, settled
-- trades, deposits and withdrawals. Every amount is NUMERIC(38,18); each asset's own scale is
-- enforced by the application (exchange.ledger.money).

CREATE TABLE ledger.accounts (
    account_id  text PRIMARY KEY CHECK (length(account_id) BETWEEN 1 AND 128),  -- Cognito sub
    kind        text NOT NULL DEFAULT 'USER' CHECK (kind IN ('USER', 'FEE', 'EXTERNAL')),
    kyc_status  text NOT NULL CHECK (kyc_status IN ('PENDING', 'VERIFIED', 'REJECTED', 'SUSPENDED')),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The outside world: journal-only (no balance row), the other side of deposits and withdrawals.
INSERT INTO ledger.accounts (account_id, kind, kyc_status) VALUES ('external', 'EXTERNAL', 'VERIFIED');

CREATE TABLE ledger.balances (
    account_id  text NOT NULL REFERENCES ledger.accounts,
    asset       text NOT NULL,
    available   numeric(38, 18) NOT NULL DEFAULT 0 CONSTRAINT available_not_negative CHECK (available >= 0),
    held        numeric(38, 18) NOT NULL DEFAULT 0 CONSTRAINT held_not_negative CHECK (held >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, asset)
);

CREATE TABLE ledger.journal_tx (
    tx_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL,
    reference   text NOT NULL,            -- order, deposit or withdrawal id; symbol#seq for events
    symbol      text,
    seq         bigint,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ledger.journal_entries (
    entry_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx_id       bigint NOT NULL REFERENCES ledger.journal_tx,
    account_id  text NOT NULL REFERENCES ledger.accounts,
    asset       text NOT NULL,
    bucket      text NOT NULL CHECK (bucket IN ('AVAILABLE', 'HELD')),
    amount      numeric(38, 18) NOT NULL CHECK (amount <> 0)
);
CREATE INDEX journal_entries_tx ON ledger.journal_entries (tx_id);
CREATE INDEX journal_entries_account ON ledger.journal_entries (account_id, tx_id);

-- Append-only: the journal is never updated, deleted or truncated (statement triggers, so even
-- a statement that matches no row is refused).
CREATE FUNCTION ledger.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger.% is append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER journal_tx_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger.journal_tx
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER journal_entries_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger.journal_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();

-- Double entry, checked by the database: the entries of each INSERT statement sum to zero per
-- transaction and asset. The ledger writes a transaction's entries in one statement; a statement
-- trigger over the new rows checks them once, not once per row.
CREATE FUNCTION ledger.check_entries_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT tx_id, asset INTO bad FROM new_entries
        GROUP BY tx_id, asset HAVING sum(amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal tx % does not sum to zero in %', bad.tx_id, bad.asset
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER journal_entries_balanced AFTER INSERT ON ledger.journal_entries
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.check_entries_balanced();

-- What is held for each order, keyed by order id (a second reservation of the same order is a
-- no-op). limit_ticks: the price a buy is held at (limit or protection price); NULL for sells.
CREATE TABLE ledger.reservations (
    order_id       text PRIMARY KEY,
    account_id     text NOT NULL REFERENCES ledger.accounts,
    symbol         text NOT NULL,
    side           text NOT NULL CHECK (side IN ('BUY', 'SELL')),
    asset          text NOT NULL,
    limit_ticks    bigint CHECK (limit_ticks > 0),
    original_lots  bigint NOT NULL CHECK (original_lots > 0),
    open_lots      bigint NOT NULL CHECK (open_lots >= 0),
    held           numeric(38, 18) NOT NULL CHECK (held >= 0),
    max_fee_bps    integer NOT NULL,
    fee_accrued    numeric(38, 18) NOT NULL DEFAULT 0,   -- exact, unrounded
    fee_charged    numeric(38, 18) NOT NULL DEFAULT 0,   -- ceil(fee_accrued) at the quote's scale
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((side = 'BUY') = (limit_ticks IS NOT NULL))
);
CREATE INDEX reservations_open ON ledger.reservations (account_id) WHERE open_lots > 0;

-- Settled trades: (symbol, seq) is the idempotency key of settlement.
CREATE TABLE ledger.settled_trades (
    symbol            text NOT NULL,
    seq               bigint NOT NULL,
    maker_order_id    text NOT NULL,
    taker_order_id    text NOT NULL,
    maker_account_id  text NOT NULL,
    taker_account_id  text NOT NULL,
    aggressor_side    text NOT NULL CHECK (aggressor_side IN ('BUY', 'SELL')),
    price_ticks       bigint NOT NULL,
    qty_lots          bigint NOT NULL,
    notional          numeric(38, 18),
    maker_fee         numeric(38, 18),
    taker_fee         numeric(38, 18),
    tx_id             bigint REFERENCES ledger.journal_tx,
    settled_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, seq)
);

-- Other engine events applied to holds (cancel, expiry, amend, reject), idempotent on (symbol, seq).
CREATE TABLE ledger.applied_events (
    symbol      text NOT NULL,
    seq         bigint NOT NULL,
    kind        text NOT NULL,
    order_id    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, seq)
);

-- Every webhook event id ever accepted: a replayed body is refused.
CREATE TABLE ledger.webhook_events (
    event_id     text PRIMARY KEY,
    signed_at    bigint NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ledger.deposits (
    deposit_id  text PRIMARY KEY,
    event_id    text NOT NULL REFERENCES ledger.webhook_events,
    account_id  text NOT NULL REFERENCES ledger.accounts,
    asset       text NOT NULL,
    amount      numeric(38, 18) NOT NULL CHECK (amount > 0),
    status      text NOT NULL CHECK (status IN ('CREDITED', 'FAILED')),
    tx_id       bigint REFERENCES ledger.journal_tx,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ledger.withdrawals (
    withdrawal_id  text PRIMARY KEY,
    account_id     text NOT NULL REFERENCES ledger.accounts,
    asset          text NOT NULL,
    amount         numeric(38, 18) NOT NULL CHECK (amount > 0),
    status         text NOT NULL CHECK (status IN ('PENDING', 'COMPLETED', 'FAILED')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
