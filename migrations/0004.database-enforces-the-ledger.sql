-- The database enforces the ledger's rules itself, whatever code writes to it.
-- Each constraint below is added validated: yoyo runs this file in one
-- transaction, so a row that already breaks a rule stops the migration and
-- nothing changes (NOT VALID + VALIDATE in the same transaction would hold
-- the same locks). The only rows rewritten are the platform accounts' stored
-- balances, which become NULL (rule 5). The previous release keeps working
-- on this schema: it never writes a row these rules refuse.
-- depends: 0003.append-only-ledger

-- 1. An entry's unit is its account's unit.
-- A user has one money account, in the currency it was opened in; a trade in
-- another currency is refused (the service answers 422 currency-mismatch)
-- rather than opening a second money account: the user's cost basis, kept on
-- the gold account, is in that one currency, and average cost and P&L across
-- two currencies would need exchange rates or per-currency lots, a product
-- decision this schema does not take.
ALTER TABLE accounts ADD CONSTRAINT accounts_id_unit UNIQUE (id, unit);
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_unit_is_account_unit
    FOREIGN KEY (account_id, unit) REFERENCES accounts (id, unit);

-- 2. One entry per (transaction, account). Its index leads with
-- transaction_id, so it also serves what ledger_entries_transaction did.
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_one_per_transaction_account
    UNIQUE (transaction_id, account_id);
DROP INDEX ledger_entries_transaction;

-- 3. A transaction's user belongs to the transaction's partner.
ALTER TABLE users ADD CONSTRAINT users_id_partner UNIQUE (id, partner_id);
ALTER TABLE transactions ADD CONSTRAINT transactions_user_of_partner
    FOREIGN KEY (user_id, partner_id) REFERENCES users (id, partner_id);

-- 4. A transaction is priced once, at verify: its figures never change. It
-- leaves 'pending' once (the status CHECK names where to), and a transaction
-- in a final state (confirmed, cancelled, expired) is history: it never
-- changes again.
CREATE FUNCTION transactions_follow_their_lifecycle() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status <> 'pending' AND NEW IS DISTINCT FROM OLD THEN
        RAISE EXCEPTION 'transaction % is %, a final state: it never changes', OLD.id, OLD.status
            USING ERRCODE = 'check_violation';
    END IF;
    IF (NEW.id, NEW.seq, NEW.partner_id, NEW.user_id, NEW.rate_id, NEW.side, NEW.quoted_in,
        NEW.currency, NEW.grams, NEW.price_per_gram, NEW.tax_rate, NEW.pre_tax_amount,
        NEW.tax_amount, NEW.total_amount, NEW.created_at)
       IS DISTINCT FROM
       (OLD.id, OLD.seq, OLD.partner_id, OLD.user_id, OLD.rate_id, OLD.side, OLD.quoted_in,
        OLD.currency, OLD.grams, OLD.price_per_gram, OLD.tax_rate, OLD.pre_tax_amount,
        OLD.tax_amount, OLD.total_amount, OLD.created_at) THEN
        RAISE EXCEPTION 'the figures of transaction % were fixed at verify', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER transactions_lifecycle
    BEFORE UPDATE ON transactions
    FOR EACH ROW EXECUTE FUNCTION transactions_follow_their_lifecycle();

-- 5. Only user accounts keep a stored, running balance. The vault and the
-- treasury are not updated per trade (one hot row would serialise every
-- trade), so a stored 0 there was misleading: it is NULL, and their balance
-- is the sum of their entries, in the view account_balances.
ALTER TABLE accounts ALTER COLUMN balance DROP NOT NULL, ALTER COLUMN balance DROP DEFAULT;
UPDATE accounts SET balance = NULL WHERE user_id IS NULL;
ALTER TABLE accounts ADD CONSTRAINT accounts_balance_on_user_accounts_only
    CHECK ((user_id IS NULL) = (balance IS NULL));

-- A column default cannot depend on the kind of account: a user account
-- opens at 0 unless the insert says otherwise; a platform account has none.
CREATE FUNCTION accounts_open_with_a_balance() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.user_id IS NOT NULL AND NEW.balance IS NULL THEN
        NEW.balance := 0;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER accounts_opening_balance
    BEFORE INSERT ON accounts
    FOR EACH ROW EXECUTE FUNCTION accounts_open_with_a_balance();

-- Every account's balance as its entries sum it: the only balance a platform
-- account has, and what a user account's stored balance must equal.
CREATE VIEW account_balances AS
SELECT a.id AS account_id, a.kind, a.user_id, a.unit, coalesce(sum(e.amount), 0) AS balance
  FROM accounts a
  LEFT JOIN ledger_entries e ON e.account_id = a.id
 GROUP BY a.id, a.kind, a.user_id, a.unit;
