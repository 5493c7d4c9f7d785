-- Refused while a declared dividend is unpaid: dropping it would silently cancel a payout.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM ledger.dividends WHERE status = 'DECLARED') THEN
        RAISE EXCEPTION 'ledger.dividends has declared, unpaid dividends; pay them first'
            USING ERRCODE = 'object_in_use';
    END IF;
END $$;

-- The new roles' grants in this database go (the roles stay: they are cluster-wide, see 0003's
-- down); the older roles' grants on the dropped tables go with them.
DO $$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['exchange_admin', 'exchange_reconciliation', 'exchange_dividends'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
            EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA ledger FROM %I', role_name);
            EXECUTE format('REVOKE ALL ON SCHEMA ledger FROM %I', role_name);
            EXECUTE format('REVOKE ALL ON DATABASE %I FROM %I', current_database(), role_name);
        END IF;
    END LOOP;
END $$;

-- A dropped column keeps its grants in the catalog (as a dropped attribute): revoke them first.
REVOKE SELECT (frozen) ON ledger.accounts FROM exchange_orders, exchange_account;
DROP TABLE ledger.dividend_payments;
DROP TABLE ledger.dividends;
DROP TABLE ledger.fee_schedule;
DROP TABLE ledger.account_freeze_events;
ALTER TABLE ledger.accounts
    DROP CONSTRAINT frozen_since,
    DROP COLUMN frozen_by,
    DROP COLUMN frozen_at,
    DROP COLUMN frozen;
