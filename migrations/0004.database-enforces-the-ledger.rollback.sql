-- Back to the 0003 schema exactly; platform accounts store 0 again, as they did.
DROP VIEW account_balances;
DROP TRIGGER accounts_opening_balance ON accounts;
DROP FUNCTION accounts_open_with_a_balance();
ALTER TABLE accounts DROP CONSTRAINT accounts_balance_on_user_accounts_only;
UPDATE accounts SET balance = 0 WHERE user_id IS NULL;
ALTER TABLE accounts ALTER COLUMN balance SET DEFAULT 0, ALTER COLUMN balance SET NOT NULL;

DROP TRIGGER transactions_lifecycle ON transactions;
DROP FUNCTION transactions_follow_their_lifecycle();

ALTER TABLE transactions DROP CONSTRAINT transactions_user_of_partner;
ALTER TABLE users DROP CONSTRAINT users_id_partner;

CREATE INDEX ledger_entries_transaction ON ledger_entries (transaction_id);
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_one_per_transaction_account;

ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_unit_is_account_unit;
ALTER TABLE accounts DROP CONSTRAINT accounts_id_unit;
