DROP FUNCTION ledger_checkpoint_advance(integer);
DROP TABLE ledger_checkpoint_open;
DROP TABLE ledger_checkpoint_balances;
DROP TABLE ledger_checkpoint;
