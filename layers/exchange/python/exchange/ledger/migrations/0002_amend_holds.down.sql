-- Refused while an amend's increase is still held: dropping it would orphan held funds.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM ledger.amend_holds WHERE status = 'PENDING') THEN
        RAISE EXCEPTION 'ledger.amend_holds has pending amend holds; settle them first'
            USING ERRCODE = 'object_in_use';
    END IF;
END $$;
DROP TABLE ledger.amend_holds;
ALTER TABLE ledger.reservations DROP COLUMN filled_lots;
