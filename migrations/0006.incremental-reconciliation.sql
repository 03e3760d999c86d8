-- Reconciliation that does not grow with the ledger: a checkpoint holds, per
-- account, the sum of every entry up to an entry id, so the operator's check
-- adds only the entries after it. Expand only: two new tables and a function;
-- the previous release never reads them.
-- depends: 0005.exact-replays-and-operator-keys

-- One row. Every entry with id <= through_entry is summed into
-- ledger_checkpoint_balances, and the entries of every transaction they
-- belong to were checked to balance; every transaction with seq <=
-- through_seq is final and, if confirmed, has entries, or is on
-- ledger_checkpoint_open. The
-- candidate is the next step's bound: the newest entry and transaction seen
-- under a snapshot whose xmax is candidate_xmax. An id is taken when a row is
-- inserted, not when it commits, so a lower id may still commit after a
-- higher one is visible; the candidate is only used once every transaction
-- that was running at that snapshot has ended (the current snapshot's xmin
-- has passed candidate_xmax), and then no entry at or below it can appear.
CREATE TABLE ledger_checkpoint (
    singleton        boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    through_entry    bigint NOT NULL DEFAULT 0 CHECK (through_entry >= 0),
    through_seq      bigint NOT NULL DEFAULT 0 CHECK (through_seq >= 0),
    candidate_entry  bigint NOT NULL CHECK (candidate_entry >= through_entry),
    candidate_seq    bigint NOT NULL CHECK (candidate_seq >= through_seq),
    candidate_xmax   xid8 NOT NULL,
    -- Why the checkpoint stopped short of its candidate (NULL when it did not).
    held_because     text,
    advanced_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ledger_checkpoint_balances (
    account_id  uuid PRIMARY KEY REFERENCES accounts (id),
    balance     numeric NOT NULL
);

-- Transactions with seq <= through_seq that were not settled and checked
-- when the checkpoint passed them: pending ones (until they are final), and
-- confirmed ones without entries (a problem: they stay, and are counted).
CREATE TABLE ledger_checkpoint_open (
    transaction_id  uuid PRIMARY KEY REFERENCES transactions (id)
);

-- One step: moves the checkpoint to its candidate (at most max_entries
-- entries further), then takes a new candidate. Concurrent callers skip (the
-- row is locked). The checkpoint never moves past a problem: a transaction
-- whose entries do not balance stays after it, and a confirmed one without
-- entries on its open list: every reconciliation counts them. Returns the
-- entries added.
CREATE FUNCTION ledger_checkpoint_advance(max_entries integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    cp ledger_checkpoint;
    target bigint;
    target_seq bigint;
    held text;
    last_entry bigint;
    last_seq bigint;
    snapshot_xmax xid8;
BEGIN
    SELECT * INTO cp FROM ledger_checkpoint FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        -- No checkpoint yet (start at 0), or another caller holds it.
        INSERT INTO ledger_checkpoint (candidate_entry, candidate_seq, candidate_xmax)
        SELECT 0, 0, pg_snapshot_xmax(pg_current_snapshot())
        ON CONFLICT (singleton) DO NOTHING;
        RETURN 0;
    END IF;
    IF pg_snapshot_xmin(pg_current_snapshot()) < cp.candidate_xmax THEN
        RETURN 0;  -- a transaction running at the candidate's snapshot may still insert below it
    END IF;

    target := least(cp.candidate_entry, cp.through_entry + max_entries);
    IF target > cp.through_entry AND EXISTS (
        SELECT FROM (SELECT DISTINCT transaction_id FROM ledger_entries
                      WHERE id > cp.through_entry AND id <= target) r
         CROSS JOIN LATERAL (
             -- each transaction's own entries, through its index
             SELECT FROM ledger_entries e WHERE e.transaction_id = r.transaction_id
              GROUP BY e.unit HAVING sum(e.amount) <> 0) unbalanced)
    THEN
        held := 'a transaction after entry ' || cp.through_entry || ' does not balance';
        target := cp.through_entry;
    END IF;
    IF target > cp.through_entry THEN
        INSERT INTO ledger_checkpoint_balances AS b (account_id, balance)
        SELECT account_id, sum(amount) FROM ledger_entries
         WHERE id > cp.through_entry AND id <= target
         GROUP BY account_id
        ON CONFLICT (account_id) DO UPDATE SET balance = b.balance + EXCLUDED.balance;
    END IF;

    -- Transactions up to the candidate. Those not settled-and-checked yet
    -- (pending, or confirmed without entries) stay on the open list, which
    -- every step and every reconciliation reads again; a pending trade leaves
    -- it once it is final (and, if confirmed, has entries).
    target_seq := cp.candidate_seq;
    DELETE FROM ledger_checkpoint_open o USING transactions t
     WHERE t.id = o.transaction_id
       AND (t.status IN ('cancelled', 'expired')
            OR (t.status = 'confirmed'
                AND EXISTS (SELECT FROM ledger_entries e WHERE e.transaction_id = t.id)));
    INSERT INTO ledger_checkpoint_open (transaction_id)
    SELECT t.id FROM transactions t
     WHERE t.seq > cp.through_seq AND t.seq <= target_seq
       AND (t.status = 'pending'
            OR (t.status = 'confirmed'
                AND NOT EXISTS (SELECT FROM ledger_entries e WHERE e.transaction_id = t.id)));
    IF EXISTS (SELECT FROM ledger_checkpoint_open o JOIN transactions t ON t.id = o.transaction_id
                WHERE t.status = 'confirmed') THEN
        held := coalesce(held || '; ', '') || 'a confirmed transaction has no entries';
    END IF;

    IF target = cp.candidate_entry THEN
        -- Caught up with the candidate's entries: take the next candidate, all
        -- from one snapshot (through_seq may stay behind, at a pending trade).
        SELECT (SELECT coalesce(max(id), 0) FROM ledger_entries),
               (SELECT coalesce(max(seq), 0) FROM transactions),
               pg_snapshot_xmax(pg_current_snapshot())
          INTO last_entry, last_seq, snapshot_xmax;
        UPDATE ledger_checkpoint
           SET through_entry = target, through_seq = target_seq, held_because = held,
               candidate_entry = greatest(last_entry, target),
               candidate_seq = greatest(last_seq, target_seq),
               candidate_xmax = snapshot_xmax, advanced_at = now();
    ELSE
        UPDATE ledger_checkpoint
           SET through_entry = target, through_seq = target_seq, held_because = held,
               advanced_at = now();
    END IF;
    RETURN target - cp.through_entry;
END;
$$;
