-- The ledger is append-only: an entry is never changed or removed (a mistake
-- is corrected by new, balancing entries). The balance check of 0002 runs on
-- insert; this makes sure nothing can unbalance a transaction afterwards.
-- depends: 0002.users-trades-ledger

CREATE FUNCTION ledger_entries_are_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER ledger_entries_append_only
    BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_are_immutable();

CREATE TRIGGER ledger_entries_no_truncate
    BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_are_immutable();
