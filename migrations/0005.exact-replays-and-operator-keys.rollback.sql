DROP TABLE operator_idempotency_keys;
ALTER TABLE idempotency_keys DROP COLUMN response_bytes;
