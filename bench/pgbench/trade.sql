-- W ceiling: one trade = the SQL statements the service sends for
--   POST /v1/transactions/buy           (verify: one database transaction)
--   POST /v1/transactions/{id}/confirm  (confirm: one database transaction)
-- both with an Idempotency-Key, copied from src/gold_platform/store/*.py and
-- services/{idempotency,trading}.py, in the same order and the same round
-- trips, under pgbench -M simple (literal parameters, like psycopg2/aiopg).
-- Kept in step with the service: same statements, same order, same round
-- trips. 6 round trips per trade (3 + 3; 14 before perf-trade):
--   verify:  BEGIN + claim with the user and rate reads | insert | record + COMMIT
--   confirm: BEGIN + claim with the trade read and the holding lock | settle | record + COMMIT
-- `\;` joins statements into one message (one round trip), as psycopg2 does
-- with "BEGIN ...; <statement>"; \gset then reads the last statement's row.
-- Like the service (src/gold_platform/db.py), each statement is a server-side
-- prepared statement: prepared once per connection (the first transaction of
-- each client; bench/run.py passes -D prepared=0), then run by EXECUTE with
-- the values the service passes as parameters, typed as the service declares
-- them (numeric for amounts, bytea for bytes, the rest inferred).
-- bench/run.py fills the placeholder constants from this run's seed. bench_users
-- maps a random number to (partner, user); it is read inside the first
-- statement, so the number of round trips is exactly the service's.
-- Not sent by the service and so not here: partner auth (cached in process)
-- and the rate limit (Redis).
\if :prepared = 0
PREPARE verify_claim (unknown, unknown, bytea, unknown) AS
WITH claim AS (INSERT INTO idempotency_keys (partner_id, key, request_hash)
VALUES ((SELECT partner_id FROM bench_users WHERE n = $1), $2, $3)
ON CONFLICT (partner_id, key) DO UPDATE SET key = EXCLUDED.key
RETURNING request_hash, response_status, response_bytes, response_body AS response_body,
          partner_id, (SELECT user_id FROM bench_users WHERE n = $1) AS user_id)
SELECT claim.*, part_user.*, part_rate.* FROM claim
  LEFT JOIN LATERAL (SELECT true AS found_user, r.* FROM (
    SELECT u.id, u.external_id, u.kyc_status, u.kyc_verified_at, u.created_at,
           g.balance AS balance_grams, g.cost_basis, m.unit AS currency
      FROM users u
      JOIN accounts g ON g.user_id = u.id AND g.kind = 'user_gold'
      JOIN accounts m ON m.user_id = u.id AND m.kind = 'user_money'
     WHERE u.partner_id = claim.partner_id AND u.id = claim.user_id) r
    WHERE claim.response_status IS NULL) AS part_user ON true
  LEFT JOIN LATERAL (SELECT true AS found_rate, r.* FROM (
    SELECT id, currency, buy_price, sell_price, tax_rate, source, published_at, valid_until,
           valid_until > clock_timestamp() AS valid
      FROM rates WHERE id = $4) r
    WHERE claim.response_status IS NULL) AS part_rate ON true\;
PREPARE verify_insert (unknown, unknown, unknown, unknown, unknown, unknown,
                       numeric, numeric, numeric, numeric, numeric, numeric, unknown) AS
WITH t AS (
    INSERT INTO transactions (partner_id, user_id, rate_id, side, quoted_in, currency,
        grams, price_per_gram, tax_rate, pre_tax_amount, tax_amount, total_amount,
        expires_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
            now() + make_interval(secs => $13))
    RETURNING *
)
SELECT t.id, t.seq, t.user_id, t.rate_id, t.side, t.quoted_in, t.status, t.currency, t.grams,
       t.price_per_gram, t.tax_rate, t.pre_tax_amount, t.tax_amount, t.total_amount,
       t.created_at, t.expires_at, t.settled_at, t.expires_at <= clock_timestamp() AS past_expiry
  FROM t\;
PREPARE record (unknown, bytea, bytea, unknown, unknown) AS
UPDATE idempotency_keys SET response_status = $1, response_bytes = $2,
       response_body = convert_from($3, 'UTF8')::jsonb
 WHERE (partner_id, key) = ($4, $5)\;
PREPARE confirm_claim (unknown, unknown, bytea, unknown, unknown, unknown) AS
WITH claim AS (INSERT INTO idempotency_keys (partner_id, key, request_hash)
VALUES ($1, $2, $3)
ON CONFLICT (partner_id, key) DO UPDATE SET key = EXCLUDED.key
RETURNING request_hash, response_status, response_bytes, response_body AS response_body)
SELECT claim.*, part_trade.*, part_holding.* FROM claim
  LEFT JOIN LATERAL (SELECT true AS found_trade, r.* FROM (
    SELECT t.id, t.seq, t.user_id, t.rate_id, t.side, t.quoted_in, t.status, t.currency, t.grams,
           t.price_per_gram, t.tax_rate, t.pre_tax_amount, t.tax_amount, t.total_amount,
           t.created_at, t.expires_at, t.settled_at, t.expires_at <= clock_timestamp() AS past_expiry
      FROM transactions t WHERE t.partner_id = $4 AND t.id = $5) r
    WHERE claim.response_status IS NULL) AS part_trade ON true
  LEFT JOIN LATERAL (SELECT true AS found_holding, r.* FROM (
    SELECT g.id AS gold_account_id, g.balance, g.cost_basis,
           m.id AS money_account_id, u.kyc_status
      FROM users u
      JOIN accounts g ON g.user_id = u.id AND g.kind = 'user_gold'
      JOIN accounts m ON m.user_id = u.id AND m.kind = 'user_money'
     WHERE u.partner_id = $6 AND u.id = part_trade.user_id
       FOR UPDATE OF g) r
    WHERE claim.response_status IS NULL) AS part_holding ON true\;
PREPARE confirm_settle (unknown, unknown, unknown, numeric, unknown, unknown, unknown, numeric,
                        unknown, unknown, numeric, unknown, unknown, unknown, numeric,
                        numeric, numeric, unknown, numeric, unknown) AS
WITH t AS (
    UPDATE transactions SET status = 'confirmed', settled_at = now()
     WHERE id = $1 AND status = 'pending' AND expires_at > clock_timestamp()
    RETURNING *
), entries AS (
    INSERT INTO ledger_entries (transaction_id, account_id, unit, amount)
    SELECT t.id, e.account_id, e.unit, e.amount
      FROM t, (VALUES
        ($2::uuid, $3, $4),
        ((SELECT id FROM accounts WHERE user_id IS NULL AND kind = $5 AND unit = $6), $7, $8),
        ($9::uuid, $10, $11),
        ((SELECT id FROM accounts WHERE user_id IS NULL AND kind = $12 AND unit = $13), $14, $15)
      ) AS e (account_id, unit, amount)
), gold AS (
    UPDATE accounts SET balance = balance + $16, cost_basis = $17
     WHERE id = $18 AND EXISTS (SELECT FROM t)
), money AS (
    UPDATE accounts SET balance = balance + $19
     WHERE id = $20 AND EXISTS (SELECT FROM t)
)
SELECT t.id, t.seq, t.user_id, t.rate_id, t.side, t.quoted_in, t.status, t.currency, t.grams,
       t.price_per_gram, t.tax_rate, t.pre_tax_amount, t.tax_amount, t.total_amount,
       t.created_at, t.expires_at, t.settled_at, t.expires_at <= clock_timestamp() AS past_expiry
  FROM t;
\set prepared 1
\endif
\set n random(0, {{NUSERS_MINUS_1}})
\set k random(1, 9000000000000000000)
-- ---------------------------------------------------------------- verify
BEGIN ISOLATION LEVEL READ COMMITTED\;
EXECUTE verify_claim(:n, 'pgb-v-:k',
    '\x9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'::bytea, '{{RATE_ID}}')
\gset
EXECUTE verify_insert(':partner_id', ':user_id', '{{RATE_ID}}', 'buy', 'amount', '{{CURRENCY}}',
    {{GRAMS}}, {{PRICE_PER_GRAM}}, {{TAX_RATE}}, {{PRE_TAX}}, {{TAX}}, {{TOTAL}}, 600)
\gset v_
EXECUTE record(201, '\x{{BODY_HEX}}'::bytea, '\x{{BODY_HEX}}'::bytea, ':partner_id', 'pgb-v-:k')\;
COMMIT;
-- ---------------------------------------------------------------- confirm
BEGIN ISOLATION LEVEL READ COMMITTED\;
EXECUTE confirm_claim(':partner_id', 'pgb-c-:k',
    '\x60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752'::bytea,
    ':partner_id', ':v_id', ':partner_id')
\gset h_
EXECUTE confirm_settle(':v_id',
    ':h_gold_account_id', 'XAU_G', {{GRAMS}},
    'vault_gold', 'XAU_G', 'XAU_G', {{NEG_GRAMS}},
    ':h_money_account_id', '{{CURRENCY}}', {{NEG_TOTAL}},
    'treasury_money', '{{CURRENCY}}', '{{CURRENCY}}', {{TOTAL}},
    {{GRAMS}}, :h_cost_basis + {{TOTAL}}, ':h_gold_account_id',
    {{NEG_TOTAL}}, ':h_money_account_id');
EXECUTE record(200, '\x{{BODY_HEX}}'::bytea, '\x{{BODY_HEX}}'::bytea, ':partner_id', 'pgb-c-:k')\;
COMMIT;
