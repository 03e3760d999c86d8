-- Idempotent replays return the first answer's exact bytes (jsonb keeps the
-- JSON, not its key order or spacing), and the operator's calls, which have
-- no partner, get keys of their own. Expand only: the previous release keeps
-- reading response_body, which this release still writes next to
-- response_bytes (drop it a release later), and never reads the new table.
-- depends: 0004.database-enforces-the-ledger

ALTER TABLE idempotency_keys ADD COLUMN response_bytes bytea;

CREATE TABLE operator_idempotency_keys (
    key              text PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 255),
    request_hash     bytea NOT NULL,
    response_status  integer,
    response_bytes   bytea,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX operator_idempotency_keys_created_at ON operator_idempotency_keys (created_at);
