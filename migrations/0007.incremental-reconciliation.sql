-- Reconciliation that does not grow with the ledger: a checkpoint holds, per
-- account, the sum of every entry up to an entry id, so the operator's check
-- adds only the entries after it. Expand only: two new tables and a function;
-- the previous release never reads them.
-- depends: 0005.exact-replays-and-operator-keys

-- One row. Every entry with id <= through_entry is summed into
-- ledger_checkpoint_balances, and the entries of every transaction they
-- belong to were checked to balance; every transaction with seq <=
-- through_seq was in a final state and, if confirmed, had entries. The
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

-- One step: moves the checkpoint to its candidate (at most max_entries
-- entries further), then takes a new candidate. Concurrent callers skip (the
-- row is locked). The checkpoint never moves past a problem: a transaction
-- whose entries do not balance, or a confirmed one without entries, stays
-- after it, where every reconciliation counts it. Returns the entries added.
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
        SELECT FROM ledger_entries e
         WHERE e.transaction_id IN (SELECT transaction_id FROM ledger_entries
                                     WHERE id > cp.through_entry AND id <= target)
         GROUP BY e.transaction_id, e.unit HAVING sum(e.amount) <> 0)
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

    -- Transactions: up to the candidate, and short of the oldest still pending.
    SELECT least(cp.candidate_seq, min(seq) - 1) INTO target_seq
      FROM transactions WHERE status = 'pending' AND seq > cp.through_seq;
    target_seq := coalesce(target_seq, cp.candidate_seq);
    IF target_seq > cp.through_seq AND EXISTS (
        SELECT FROM transactions t
         WHERE t.seq > cp.through_seq AND t.seq <= target_seq AND t.status = 'confirmed'
           AND NOT EXISTS (SELECT FROM ledger_entries e WHERE e.transaction_id = t.id))
    THEN
        held := coalesce(held || '; ', '')
            || 'a confirmed transaction after seq ' || cp.through_seq || ' has no entries';
        target_seq := cp.through_seq;
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
