-- Takes every grant of this database back from the functions' roles. The roles themselves stay:
-- they are cluster-wide, and another database may still use them (drop them by hand, with
-- DROP ROLE, once no database grants them anything).
DO $$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY[
        'exchange_orders', 'exchange_account', 'exchange_deposits', 'exchange_settlement',
        'exchange_dead_letters', 'exchange_health', 'exchange_kyc', 'exchange_onboarding'
    ] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
            -- Revoking a table's privileges revokes its columns' too.
            EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA ledger FROM %I', role_name);
            EXECUTE format('REVOKE ALL ON SCHEMA ledger FROM %I', role_name);
            EXECUTE format('REVOKE ALL ON DATABASE %I FROM %I', current_database(), role_name);
        END IF;
    END LOOP;
END $$;

DROP TABLE ledger.kyc_events;
ALTER TABLE ledger.accounts
    DROP COLUMN email,
    DROP COLUMN kyc_decided_by,
    DROP COLUMN kyc_decided_at,
    DROP COLUMN kyc_updated_at,
    ALTER COLUMN kyc_status DROP DEFAULT;
