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
-- bench/run.py fills the placeholder constants from this run's seed. bench_users
-- maps a random number to (partner, user); it is read inside the first
-- statement, so the number of round trips is exactly the service's.
-- Not sent by the service and so not here: partner auth (cached in process)
-- and the rate limit (Redis).
\set n random(0, {{NUSERS_MINUS_1}})
\set k random(1, 9000000000000000000)
-- ---------------------------------------------------------------- verify
BEGIN ISOLATION LEVEL READ COMMITTED\;
WITH claim AS (INSERT INTO idempotency_keys (partner_id, key, request_hash)
VALUES ((SELECT partner_id FROM bench_users WHERE n = :n), 'pgb-v-:k',
        '\x9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'::bytea)
ON CONFLICT (partner_id, key) DO UPDATE SET key = EXCLUDED.key
RETURNING request_hash, response_status, response_bytes, response_body AS response_body,
          partner_id, (SELECT user_id FROM bench_users WHERE n = :n) AS user_id)
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
      FROM rates WHERE id = '{{RATE_ID}}') r
    WHERE claim.response_status IS NULL) AS part_rate ON true
\gset
WITH t AS (
    INSERT INTO transactions (partner_id, user_id, rate_id, side, quoted_in, currency,
        grams, price_per_gram, tax_rate, pre_tax_amount, tax_amount, total_amount,
        expires_at)
    VALUES (':partner_id', ':user_id', '{{RATE_ID}}', 'buy', 'amount', '{{CURRENCY}}',
            {{GRAMS}}, {{PRICE_PER_GRAM}}, {{TAX_RATE}}, {{PRE_TAX}}, {{TAX}}, {{TOTAL}},
            now() + make_interval(secs => 600))
    RETURNING *
)
SELECT t.id, t.seq, t.user_id, t.rate_id, t.side, t.quoted_in, t.status, t.currency, t.grams,
       t.price_per_gram, t.tax_rate, t.pre_tax_amount, t.tax_amount, t.total_amount,
       t.created_at, t.expires_at, t.settled_at, t.expires_at <= clock_timestamp() AS past_expiry
  FROM t
\gset v_
UPDATE idempotency_keys SET response_status = 201, response_bytes = '\x{{BODY_HEX}}'::bytea,
       response_body = convert_from('\x{{BODY_HEX}}'::bytea, 'UTF8')::jsonb
 WHERE (partner_id, key) = (':partner_id', 'pgb-v-:k')\;
COMMIT;
-- ---------------------------------------------------------------- confirm
BEGIN ISOLATION LEVEL READ COMMITTED\;
WITH claim AS (INSERT INTO idempotency_keys (partner_id, key, request_hash)
VALUES (':partner_id', 'pgb-c-:k',
        '\x60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752'::bytea)
ON CONFLICT (partner_id, key) DO UPDATE SET key = EXCLUDED.key
RETURNING request_hash, response_status, response_bytes, response_body AS response_body)
SELECT claim.*, part_trade.*, part_holding.* FROM claim
  LEFT JOIN LATERAL (SELECT true AS found_trade, r.* FROM (
    SELECT t.id, t.seq, t.user_id, t.rate_id, t.side, t.quoted_in, t.status, t.currency, t.grams,
           t.price_per_gram, t.tax_rate, t.pre_tax_amount, t.tax_amount, t.total_amount,
           t.created_at, t.expires_at, t.settled_at, t.expires_at <= clock_timestamp() AS past_expiry
      FROM transactions t WHERE t.partner_id = ':partner_id' AND t.id = ':v_id') r
    WHERE claim.response_status IS NULL) AS part_trade ON true
  LEFT JOIN LATERAL (SELECT true AS found_holding, r.* FROM (
    SELECT g.id AS gold_account_id, g.balance, g.cost_basis,
           m.id AS money_account_id, u.kyc_status
      FROM users u
      JOIN accounts g ON g.user_id = u.id AND g.kind = 'user_gold'
      JOIN accounts m ON m.user_id = u.id AND m.kind = 'user_money'
     WHERE u.partner_id = ':partner_id' AND u.id = part_trade.user_id
       FOR UPDATE OF g) r
    WHERE claim.response_status IS NULL) AS part_holding ON true
\gset h_
WITH t AS (
    UPDATE transactions SET status = 'confirmed', settled_at = now()
     WHERE id = ':v_id' AND status = 'pending' AND expires_at > clock_timestamp()
    RETURNING *
), entries AS (
    INSERT INTO ledger_entries (transaction_id, account_id, unit, amount)
    SELECT t.id, e.account_id, e.unit, e.amount
      FROM t, (VALUES
        (':h_gold_account_id'::uuid, 'XAU_G', {{GRAMS}}::numeric),
        ((SELECT id FROM accounts WHERE user_id IS NULL AND kind = 'vault_gold' AND unit = 'XAU_G'),
         'XAU_G', {{NEG_GRAMS}}),
        (':h_money_account_id'::uuid, '{{CURRENCY}}', {{NEG_TOTAL}}),
        ((SELECT id FROM accounts WHERE user_id IS NULL AND kind = 'treasury_money' AND unit = '{{CURRENCY}}'),
         '{{CURRENCY}}', {{TOTAL}})) AS e (account_id, unit, amount)
), gold AS (
    UPDATE accounts SET balance = balance + {{GRAMS}}, cost_basis = :h_cost_basis + {{TOTAL}}
     WHERE id = ':h_gold_account_id' AND EXISTS (SELECT FROM t)
), money AS (
    UPDATE accounts SET balance = balance + {{NEG_TOTAL}}
     WHERE id = ':h_money_account_id' AND EXISTS (SELECT FROM t)
)
SELECT t.id, t.seq, t.user_id, t.rate_id, t.side, t.quoted_in, t.status, t.currency, t.grams,
       t.price_per_gram, t.tax_rate, t.pre_tax_amount, t.tax_amount, t.total_amount,
       t.created_at, t.expires_at, t.settled_at, t.expires_at <= clock_timestamp() AS past_expiry
  FROM t;
UPDATE idempotency_keys SET response_status = 200, response_bytes = '\x{{BODY_HEX}}'::bytea,
       response_body = convert_from('\x{{BODY_HEX}}'::bytea, 'UTF8')::jsonb
 WHERE (partner_id, key) = (':partner_id', 'pgb-c-:k')\;
COMMIT;
