DROP TABLE idempotency_keys;
DROP TRIGGER ledger_entries_balance ON ledger_entries;
DROP FUNCTION ledger_transaction_balances();
DROP TABLE ledger_entries;
DROP TABLE transactions;
DROP TABLE accounts;
DROP TABLE users;
