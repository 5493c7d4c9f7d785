-- Operator controls: account freezes, the fee schedule by seq, cash dividends, and the roles of
-- the admin, reconciliation and dividends functions (grants as in 0003: only what each code path
-- needs; "lock only" and "conflict key" mean the same as there).

-- A frozen account places no new order and requests no withdrawal (``reserve``,
-- ``reserve_amend`` and ``request_withdrawal`` refuse it in the transaction that would write);
-- cancels and settlement go on. frozen_at / frozen_by: the freeze in force (NULL when not frozen).
ALTER TABLE ledger.accounts
    ADD COLUMN frozen boolean NOT NULL DEFAULT false,
    ADD COLUMN frozen_at timestamptz,
    ADD COLUMN frozen_by text CHECK (length(frozen_by) BETWEEN 1 AND 128),
    ADD CONSTRAINT frozen_since CHECK (frozen = (frozen_at IS NOT NULL AND frozen_by IS NOT NULL));

-- Every freeze and unfreeze asked for, with who and why; changed: whether it changed the flag (a
-- freeze of a frozen account changes nothing but is kept). Append-only, like the journal.
CREATE TABLE ledger.account_freeze_events (
    event_no    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id  text NOT NULL REFERENCES ledger.accounts,
    frozen      boolean NOT NULL,
    changed     boolean NOT NULL,
    actor       text NOT NULL CHECK (length(actor) BETWEEN 1 AND 128),
    reason      text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX account_freeze_events_account ON ledger.account_freeze_events (account_id, event_no);
CREATE TRIGGER account_freeze_events_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger.account_freeze_events
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();

-- The fees of each InstrumentListed the settlement consumer applied: a trade at seq N pays the
-- row with the greatest effective_seq < N (none: the catalog's fees). (symbol, effective_seq) is
-- the event's idempotency key.
CREATE TABLE ledger.fee_schedule (
    symbol         text NOT NULL,
    effective_seq  bigint NOT NULL CHECK (effective_seq > 0),
    maker_fee_bps  integer NOT NULL CHECK (maker_fee_bps BETWEEN -100 AND 1000),
    taker_fee_bps  integer NOT NULL CHECK (taker_fee_bps BETWEEN 0 AND 1000),
    version        integer NOT NULL CHECK (version > 0),
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, effective_seq)
);

-- Cash dividends: declared by an operator, paid once at pay_time from the issuer's available
-- balance to the holders of record (exchange.ledger.dividends). asset: the quote asset paid;
-- unit_asset: the base asset whose holders are paid.
CREATE TABLE ledger.dividends (
    dividend_id        text PRIMARY KEY CHECK (length(dividend_id) BETWEEN 1 AND 128),
    symbol             text NOT NULL,
    unit_asset         text NOT NULL,
    asset              text NOT NULL,
    amount_per_unit    numeric(38, 18) NOT NULL CHECK (amount_per_unit > 0),
    record_time        timestamptz NOT NULL,
    pay_time           timestamptz NOT NULL,
    issuer_account_id  text NOT NULL REFERENCES ledger.accounts,
    declared_by        text NOT NULL CHECK (length(declared_by) BETWEEN 1 AND 128),
    reason             text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
    declared_at        timestamptz NOT NULL DEFAULT now(),
    status             text NOT NULL DEFAULT 'DECLARED' CHECK (status IN ('DECLARED', 'PAID')),
    paid_at            timestamptz,
    holders            integer CHECK (holders >= 0),
    total_paid         numeric(38, 18) CHECK (total_paid >= 0),
    tx_id              bigint REFERENCES ledger.journal_tx,   -- NULL: paid to nobody
    CHECK (record_time < pay_time),
    CHECK ((status = 'PAID') = (paid_at IS NOT NULL AND holders IS NOT NULL AND total_paid IS NOT NULL))
);
CREATE INDEX dividends_due ON ledger.dividends (pay_time) WHERE status = 'DECLARED';
CREATE INDEX dividends_symbol ON ledger.dividends (symbol, record_time);

-- What each holder of record was paid, once: the primary key is the exactly-once guard.
-- Append-only.
CREATE TABLE ledger.dividend_payments (
    dividend_id  text NOT NULL REFERENCES ledger.dividends,
    account_id   text NOT NULL REFERENCES ledger.accounts,
    units        numeric(38, 18) NOT NULL CHECK (units > 0),
    amount       numeric(38, 18) NOT NULL CHECK (amount > 0),
    tx_id        bigint NOT NULL REFERENCES ledger.journal_tx,
    PRIMARY KEY (dividend_id, account_id)
);
CREATE INDEX dividend_payments_account ON ledger.dividend_payments (account_id);
CREATE TRIGGER dividend_payments_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger.dividend_payments
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();

-- The new functions' roles (cluster-wide, as in 0003).
DO $$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['exchange_admin', 'exchange_reconciliation', 'exchange_dividends'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;  -- created meanwhile by another migration
            END;
        END IF;
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), role_name);
    END LOOP;
END $$;

GRANT USAGE ON SCHEMA ledger TO exchange_admin, exchange_reconciliation, exchange_dividends;

-- orders (reserve, reserve_amend) and account (request_withdrawal) refuse a frozen account.
GRANT SELECT (frozen) ON ledger.accounts TO exchange_orders, exchange_account;

-- settlement: the fees of each listing, by seq (conflict key: the whole key is read anyway).
GRANT SELECT, INSERT ON ledger.fee_schedule TO exchange_settlement;

-- admin: freezes (the account's row locked while it changes) with their history, and dividends
-- declared and listed.
GRANT SELECT (account_id, kind, kyc_status, created_at, frozen, frozen_at, frozen_by),
    UPDATE (frozen, frozen_at, frozen_by)
    ON ledger.accounts TO exchange_admin;
GRANT SELECT, INSERT ON ledger.account_freeze_events TO exchange_admin;
GRANT SELECT, INSERT ON ledger.dividends TO exchange_admin;

-- dividends: pays what is due, once (the dividend's row locked while it is paid): the holders of
-- record from the journal, the payments, their journal transaction and the balances.
GRANT SELECT (account_id, kind) ON ledger.accounts TO exchange_dividends;
GRANT SELECT, UPDATE (status, paid_at, holders, total_paid, tx_id)
    ON ledger.dividends TO exchange_dividends;
GRANT INSERT ON ledger.dividend_payments TO exchange_dividends;
GRANT SELECT (tx_id, created_at), INSERT ON ledger.journal_tx TO exchange_dividends;
GRANT SELECT (tx_id, account_id, asset, amount), INSERT
    ON ledger.journal_entries TO exchange_dividends;
GRANT SELECT, INSERT, UPDATE (available, held, updated_at) ON ledger.balances TO exchange_dividends;

-- account: the dividends credited to the account, shown with its positions.
GRANT SELECT (dividend_id, account_id, units, amount) ON ledger.dividend_payments
    TO exchange_account;
GRANT SELECT (dividend_id, symbol, asset, unit_asset, amount_per_unit, paid_at) ON ledger.dividends
    TO exchange_account;

-- reconciliation: reads only (exchange.ledger.postgres.audit_reads), in a read-only transaction.
GRANT SELECT (order_id, account_id, symbol, side, asset, original_lots, open_lots, filled_lots,
              held, created_at, updated_at)
    ON ledger.reservations TO exchange_reconciliation;
GRANT SELECT (account_id, kind) ON ledger.accounts TO exchange_reconciliation;
GRANT SELECT (account_id, asset, available, held) ON ledger.balances TO exchange_reconciliation;
GRANT SELECT (asset, amount, status) ON ledger.deposits TO exchange_reconciliation;
GRANT SELECT (asset, amount, status) ON ledger.withdrawals TO exchange_reconciliation;
GRANT SELECT (symbol, seq, settled_at, maker_order_id, taker_order_id)
    ON ledger.settled_trades TO exchange_reconciliation;
GRANT SELECT (symbol, seq, order_id) ON ledger.applied_events TO exchange_reconciliation;
GRANT SELECT ON ledger.journal_tx, ledger.journal_entries, ledger.dividends,
    ledger.dividend_payments TO exchange_reconciliation;
