-- One database role per ledger function, with only the grants its code path needs
-- (exchange.ledger.roles), and what onboarding and KYC need: the account's email, who decided its
-- KYC status, and every KYC change with who made it.
--
-- The roles are NOLOGIN here: the deploy step (lambdas/migrate) gives each its login and the
-- password RDS Proxy presents for it; locally, exchange.ledger.roles.grant_logins. No role owns
-- anything, and none has CREATE, TRUNCATE, TRIGGER or REFERENCES: only the admin (the migrations'
-- owner) can alter a table or drop the triggers that keep the journal append-only. A role that
-- locks rows (SELECT ... FOR UPDATE) needs UPDATE on one column of the table; where a function
-- only locks, that is its only UPDATE grant ("lock only" below); INSERT ... ON CONFLICT needs
-- SELECT on the conflict target's columns ("conflict key" below).

-- Accounts: the email stored at onboarding (the access token carries none), who decided the KYC
-- status in force (NULL: nobody yet; PROVIDER: the KYC provider's webhook; OPERATOR: an override)
-- and as of when, in unix seconds (the webhook's signed timestamp, or the operator's decision
-- time: an older webhook never replaces a newer decision), and when it was written.
ALTER TABLE ledger.accounts
    ADD COLUMN email text CHECK (length(email) BETWEEN 3 AND 320),
    ADD COLUMN kyc_decided_by text CHECK (kyc_decided_by IN ('PROVIDER', 'OPERATOR')),
    ADD COLUMN kyc_decided_at bigint,
    ADD COLUMN kyc_updated_at timestamptz NOT NULL DEFAULT now(),
    ALTER COLUMN kyc_status SET DEFAULT 'PENDING';

-- Every KYC decision received, applied or not, with who made it. A provider's event id is its
-- idempotency key. Append-only, like the journal.
CREATE TABLE ledger.kyc_events (
    event_no       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id     text NOT NULL REFERENCES ledger.accounts,
    source         text NOT NULL CHECK (source IN ('PROVIDER', 'OPERATOR')),
    actor          text NOT NULL CHECK (length(actor) BETWEEN 1 AND 128),
    event_id       text UNIQUE CHECK (length(event_id) BETWEEN 1 AND 128),
    decided_at     bigint NOT NULL,                  -- unix seconds, as accounts.kyc_decided_at
    status_before  text NOT NULL,
    status_after   text NOT NULL CHECK (status_after IN ('PENDING', 'VERIFIED', 'REJECTED', 'SUSPENDED')),
    applied        boolean NOT NULL,
    reason         text CHECK (length(reason) <= 1000),
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((source = 'PROVIDER') = (event_id IS NOT NULL))
);
CREATE INDEX kyc_events_account ON ledger.kyc_events (account_id, event_no);
CREATE TRIGGER kyc_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger.kyc_events
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();

-- The roles are cluster-wide: another database (or a second migration of the same cluster) may
-- have created them already, even concurrently.
DO $$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY[
        'exchange_orders', 'exchange_account', 'exchange_deposits', 'exchange_settlement',
        'exchange_dead_letters', 'exchange_health', 'exchange_kyc', 'exchange_onboarding'
    ] LOOP
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

GRANT USAGE ON SCHEMA ledger TO exchange_orders, exchange_account, exchange_deposits,
    exchange_settlement, exchange_dead_letters, exchange_kyc, exchange_onboarding;
-- exchange_health: CONNECT only (its check is SELECT 1).

-- Posting to the journal (postgres.journal.post): the transaction's id comes back (RETURNING).
GRANT SELECT (tx_id), INSERT ON ledger.journal_tx TO exchange_orders, exchange_deposits,
    exchange_settlement, exchange_dead_letters;
GRANT INSERT ON ledger.journal_entries TO exchange_orders, exchange_deposits,
    exchange_settlement, exchange_dead_letters;

-- orders: reserve (a new order's hold) and reserve_amend (an amend's increase).
GRANT SELECT (account_id, kind, kyc_status) ON ledger.accounts TO exchange_orders;
GRANT SELECT, INSERT ON ledger.reservations TO exchange_orders;
GRANT UPDATE (updated_at) ON ledger.reservations TO exchange_orders;  -- lock only
GRANT SELECT, INSERT ON ledger.amend_holds TO exchange_orders;
GRANT UPDATE (resolved_at) ON ledger.amend_holds TO exchange_orders;  -- lock only
GRANT SELECT, UPDATE (available, held, updated_at) ON ledger.balances TO exchange_orders;

-- account: the profile, balances, positions (replayed from the journal) and withdrawals.
GRANT SELECT (account_id, kind, kyc_status, email) ON ledger.accounts TO exchange_account;
GRANT SELECT, UPDATE (available, held, updated_at) ON ledger.balances TO exchange_account;
GRANT SELECT, INSERT ON ledger.journal_tx TO exchange_account;
GRANT SELECT, INSERT ON ledger.journal_entries TO exchange_account;
GRANT SELECT, INSERT ON ledger.withdrawals TO exchange_account;

-- deposits: the signed webhook's event, the deposit and its credit.
GRANT SELECT (account_id, kind) ON ledger.accounts TO exchange_deposits;
GRANT SELECT (event_id), INSERT ON ledger.webhook_events TO exchange_deposits;  -- conflict key
GRANT SELECT (deposit_id), INSERT, UPDATE (tx_id) ON ledger.deposits TO exchange_deposits;
GRANT SELECT, INSERT, UPDATE (available, held, updated_at) ON ledger.balances TO exchange_deposits;

-- settlement: trades settled and holds resized, once per (symbol, seq).
GRANT SELECT (symbol, seq), INSERT, UPDATE (notional, maker_fee, taker_fee, tx_id)
    ON ledger.settled_trades TO exchange_settlement;  -- a trade's row claimed once (conflict key)
GRANT SELECT (symbol, seq), INSERT ON ledger.applied_events TO exchange_settlement;  -- conflict key

-- settlement and dead_letters (release): holds resized or closed, amend increases resolved.
GRANT SELECT,
    UPDATE (limit_ticks, open_lots, held, fee_accrued, fee_charged, filled_lots, updated_at)
    ON ledger.reservations TO exchange_settlement, exchange_dead_letters;
GRANT SELECT, UPDATE (status, symbol, seq, resolved_at)
    ON ledger.amend_holds TO exchange_settlement, exchange_dead_letters;
GRANT SELECT, UPDATE (available, held, updated_at)
    ON ledger.balances TO exchange_settlement, exchange_dead_letters;
-- Settlement credits assets an account never held (a first fill, the fee account); a release only
-- gives held funds back to the balance row they came from.
GRANT INSERT ON ledger.balances TO exchange_settlement;

-- kyc: the provider's verdicts (the account's row locked while it is decided).
GRANT SELECT (account_id, kind, kyc_status, kyc_decided_by, kyc_decided_at),
    UPDATE (kyc_status, kyc_decided_by, kyc_decided_at, kyc_updated_at)
    ON ledger.accounts TO exchange_kyc;
GRANT SELECT (event_no, event_id), INSERT ON ledger.kyc_events TO exchange_kyc;  -- conflict key

-- onboarding: opens the account (KYC PENDING and kind USER by default: it cannot write either)
-- and fills a missing email; it never changes a KYC status.
GRANT SELECT (account_id, kind, email), INSERT (account_id, email), UPDATE (email)
    ON ledger.accounts TO exchange_onboarding;
