-- Money out to the end and the ledger's notices (exchange.ledger.payouts_port,
-- exchange.ledger.notices_port): withdrawal destinations, the payout worker's claims and the
-- provider's outcomes, cancels, the outbox of notices and the users' notification preferences;
-- the roles of the payouts, payout_sweeper, notices_relay and emailer functions. Grants as in
-- 0003: only what each code path needs; "lock only" and "conflict key" mean the same as there.

-- Where a user's withdrawals of one asset may go: a blockchain address or a bank reference,
-- usable only from usable_at (added + the waiting period, on the database's clock), so a thief
-- with a stolen session cannot add an address and empty the account at once. Never deleted: a
-- removed one keeps its row (removed_at) for the withdrawals that went to it.
CREATE TABLE ledger.withdrawal_destinations (
    destination_id  text PRIMARY KEY CHECK (length(destination_id) BETWEEN 1 AND 128),
    account_id      text NOT NULL REFERENCES ledger.accounts,
    asset           text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('ADDRESS', 'BANK')),
    address         text NOT NULL CHECK (length(address) BETWEEN 1 AND 256),
    label           text NOT NULL DEFAULT '' CHECK (length(label) <= 100),
    created_at      timestamptz NOT NULL DEFAULT now(),
    usable_at       timestamptz NOT NULL,
    removed_at      timestamptz,
    CHECK (usable_at >= created_at),
    CHECK (removed_at IS NULL OR removed_at >= created_at)
);
CREATE INDEX withdrawal_destinations_account
    ON ledger.withdrawal_destinations (account_id, created_at) WHERE removed_at IS NULL;

-- A withdrawal goes PENDING -> SENDING -> COMPLETED or FAILED, or PENDING -> CANCELLED.
-- destination_id: where it goes (NULL only for withdrawals requested before this migration: the
-- payout worker cannot send those, an operator fails them). attempts: how many times the payout
-- worker claimed it. provider_reference, failure_reason and outcome_event_id: the provider's
-- webhook event that finished it (in ledger.webhook_events, with the deposits' events: one
-- provider, one namespace of event ids, each accepted once).
ALTER TABLE ledger.withdrawals
    ADD COLUMN destination_id text REFERENCES ledger.withdrawal_destinations,
    ADD COLUMN attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    ADD COLUMN provider_reference text CHECK (length(provider_reference) BETWEEN 1 AND 256),
    ADD COLUMN failure_reason text CHECK (length(failure_reason) <= 1000),
    ADD COLUMN outcome_event_id text UNIQUE REFERENCES ledger.webhook_events,
    DROP CONSTRAINT withdrawals_status_check,
    ADD CONSTRAINT withdrawals_status_check
        CHECK (status IN ('PENDING', 'SENDING', 'COMPLETED', 'FAILED', 'CANCELLED'));
CREATE INDEX withdrawals_account ON ledger.withdrawals (account_id, created_at);
CREATE INDEX withdrawals_in_flight ON ledger.withdrawals (updated_at)
    WHERE status IN ('PENDING', 'SENDING');

-- The transactional outbox: each notice (exchange.notices.Notice as JSON) is written in the
-- transaction of the change it tells of, so it exists exactly when the change does; the relay
-- publishes the unpublished ones and sets published_at. The writer leaves notice_id and at_ns
-- out: the row's id and time are only known here, so a trigger stamps them.
CREATE TABLE ledger.outbox (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    notice        jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX outbox_unpublished ON ledger.outbox (id) WHERE published_at IS NULL;

CREATE FUNCTION ledger.stamp_notice() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.notice := NEW.notice || jsonb_build_object(
        'notice_id', 'ledger#' || NEW.id,
        'at_ns', (extract(epoch FROM NEW.created_at) * 1000000000)::bigint);
    RETURN NEW;
END $$;
CREATE TRIGGER outbox_stamp_notice BEFORE INSERT ON ledger.outbox
    FOR EACH ROW EXECUTE FUNCTION ledger.stamp_notice();

-- Which kinds of notice a user wants by email; a kind without a row has its default
-- (exchange.notices.DEFAULT_EMAIL). Security notices cannot be switched off.
CREATE TABLE ledger.notification_preferences (
    account_id  text NOT NULL REFERENCES ledger.accounts,
    kind        text NOT NULL CHECK (kind IN ('FILL', 'DEPOSIT', 'WITHDRAWAL', 'SECURITY')),
    email       boolean NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, kind),
    CONSTRAINT security_always_emailed CHECK (kind <> 'SECURITY' OR email)
);

-- The new functions' roles (cluster-wide, as in 0003).
DO $$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY[
        'exchange_payouts', 'exchange_payout_sweeper', 'exchange_notices_relay', 'exchange_emailer'
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

GRANT USAGE ON SCHEMA ledger TO exchange_payouts, exchange_payout_sweeper, exchange_notices_relay,
    exchange_emailer;

-- Notices: whoever changes money outside trading writes its notice (the id and time stamped by
-- the trigger, so no sequence privilege); the relay, and the deposits and payouts functions right
-- after their commit, read the unpublished ones and mark them.
GRANT INSERT ON ledger.outbox TO exchange_account, exchange_deposits, exchange_payouts;
GRANT SELECT, UPDATE (published_at) ON ledger.outbox
    TO exchange_deposits, exchange_payouts, exchange_notices_relay;

-- account: destinations added, listed and removed (the row locked while it is removed), the
-- withdrawal's destination checked, withdrawals listed and cancelled (the row locked), the
-- notification preferences read and set (an upsert: conflict key).
GRANT SELECT, INSERT, UPDATE (removed_at) ON ledger.withdrawal_destinations TO exchange_account;
GRANT UPDATE (status, updated_at) ON ledger.withdrawals TO exchange_account;
GRANT SELECT, INSERT, UPDATE (email, updated_at)
    ON ledger.notification_preferences TO exchange_account;

-- deposits: the payout webhook (its event recorded with the deposits' events, granted in 0003),
-- which completes (the hold debited) or fails (the hold released) a SENDING withdrawal.
GRANT SELECT, UPDATE (status, provider_reference, failure_reason, outcome_event_id, updated_at)
    ON ledger.withdrawals TO exchange_deposits;

-- payouts: claims a withdrawal (the row locked; the account's freeze and the destination read),
-- fails it on the provider's refusal, or finishes it from the provider's answer as the webhook
-- would (its event recorded, conflict key).
GRANT SELECT (account_id, frozen) ON ledger.accounts TO exchange_payouts;
GRANT SELECT,
    UPDATE (status, attempts, provider_reference, failure_reason, outcome_event_id, updated_at)
    ON ledger.withdrawals TO exchange_payouts;
GRANT SELECT ON ledger.withdrawal_destinations TO exchange_payouts;
GRANT SELECT (event_id), INSERT ON ledger.webhook_events TO exchange_payouts;
GRANT SELECT (tx_id), INSERT ON ledger.journal_tx TO exchange_payouts;
GRANT INSERT ON ledger.journal_entries TO exchange_payouts;
GRANT SELECT, UPDATE (available, held, updated_at) ON ledger.balances TO exchange_payouts;

-- payout_sweeper: reads the withdrawals in flight, and which accounts are frozen (their
-- withdrawals are held on purpose, not stuck), nothing else.
GRANT SELECT ON ledger.withdrawals TO exchange_payout_sweeper;
GRANT SELECT (account_id, frozen) ON ledger.accounts TO exchange_payout_sweeper;

-- emailer: reads the preferences of a user account, nothing else.
GRANT SELECT (account_id, kind) ON ledger.accounts TO exchange_emailer;
GRANT SELECT ON ledger.notification_preferences TO exchange_emailer;
