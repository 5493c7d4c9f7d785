-- Refused while a payout is in flight: the provider may still pay it, and the schema below this
-- could record neither its outcome nor that it was sent.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM ledger.withdrawals WHERE status = 'SENDING') THEN
        RAISE EXCEPTION 'ledger.withdrawals has payouts in flight (SENDING); let them finish first'
            USING ERRCODE = 'object_in_use';
    END IF;
END $$;

-- The new roles' grants in this database go (the roles stay: they are cluster-wide, see 0003's
-- down); the older roles' grants on the dropped tables go with them.
DO $$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY[
        'exchange_payouts', 'exchange_payout_sweeper', 'exchange_notices_relay', 'exchange_emailer'
    ] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
            EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA ledger FROM %I', role_name);
            EXECUTE format('REVOKE ALL ON SCHEMA ledger FROM %I', role_name);
            EXECUTE format('REVOKE ALL ON DATABASE %I FROM %I', current_database(), role_name);
        END IF;
    END LOOP;
END $$;

-- A dropped column keeps its grants in the catalog (as a dropped attribute): revoke them first.
REVOKE UPDATE (status, updated_at) ON ledger.withdrawals FROM exchange_account;
REVOKE SELECT, UPDATE (status, provider_reference, failure_reason, outcome_event_id, updated_at)
    ON ledger.withdrawals FROM exchange_deposits;

DROP TABLE ledger.notification_preferences;
DROP TABLE ledger.outbox;
DROP FUNCTION ledger.stamp_notice();

-- A cancelled withdrawal gave its hold back, as a failed one did: the old schema's word for it.
UPDATE ledger.withdrawals SET status = 'FAILED' WHERE status = 'CANCELLED';
DROP INDEX ledger.withdrawals_in_flight;
DROP INDEX ledger.withdrawals_account;
ALTER TABLE ledger.withdrawals
    DROP CONSTRAINT withdrawals_status_check,
    ADD CONSTRAINT withdrawals_status_check CHECK (status IN ('PENDING', 'COMPLETED', 'FAILED')),
    DROP COLUMN outcome_event_id,
    DROP COLUMN failure_reason,
    DROP COLUMN provider_reference,
    DROP COLUMN attempts,
    DROP COLUMN destination_id;
DROP TABLE ledger.withdrawal_destinations;
