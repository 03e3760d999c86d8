-- W-ceiling-min: the fewest round trips a trade can take with the service's
-- guarantees: 2, one per HTTP request.
--
-- Why 2 is the floor: a trade is two HTTP requests (verify, then confirm of
-- the id verify answered), and each is one database transaction that must
-- commit before its answer (the idempotency key and its response commit with
-- the work; the client confirms only what it was told exists). So each
-- request needs at least one round trip, and one is enough only if all its
-- logic runs inside the database (a SQL function per request, or one
-- multi-statement message): claim the key, read, decide, write, record the
-- response, commit. That is what this script sends: each request's work as
-- ONE message (`\;` joins statements into one simple-protocol message), with
-- the same statements, rows, locks and checks as bench/pgbench/trade.sql
-- (the service's SQL); what the service takes from one statement's answer
-- for the next is read inside the next statement here (subqueries). As there,
-- each statement is prepared once per client (-D prepared=0) and run by
-- EXECUTE; only what varies per trade is a parameter, this run's constants
-- stay literal in the prepared text (a plan can only gain from that).
--
-- The service keeps the domain rules (pricing.quote, rules.check_*) in Python
-- between its reads and its writes, so its own floor is 2 round trips per
-- request, 4 per trade: [BEGIN + claim + reads (+ lock)] then [write + record
-- + COMMIT]. It takes 6 (3 + 3): the insert / settle and the idempotency
-- record are separate statements because the recorded response is built in
-- Python from the row the write returns.
--
-- Unlike the service, nothing here branches on a replayed key (every key is
-- new in this load) and the rules (KYC threshold, holding limits, balance)
-- are not evaluated: in SQL they are a few comparisons on rows already read;
-- the oversell guard is the same row lock and CHECK constraint. bench/run.py fills the
-- placeholders as for trade.sql, and runs it after W-ceiling, same clients.
\if :prepared = 0
PREPARE mv_claim (int, unknown) AS
WITH claim AS (INSERT INTO idempotency_keys (partner_id, key, request_hash)
VALUES ((SELECT partner_id FROM bench_users WHERE n = $1), $2,
        '\x9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'::bytea)
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
      FROM rates WHERE id = '{{RATE_ID}}') r
    WHERE claim.response_status IS NULL) AS part_rate ON true\;
PREPARE mv_insert (int) AS
WITH t AS (
    INSERT INTO transactions (partner_id, user_id, rate_id, side, quoted_in, currency,
        grams, price_per_gram, tax_rate, pre_tax_amount, tax_amount, total_amount,
        expires_at)
    SELECT b.partner_id, b.user_id, '{{RATE_ID}}', 'buy', 'amount', '{{CURRENCY}}',
           {{GRAMS}}, {{PRICE_PER_GRAM}}, {{TAX_RATE}}, {{PRE_TAX}}, {{TAX}}, {{TOTAL}},
           now() + make_interval(secs => 600)
      FROM bench_users b WHERE b.n = $1
    RETURNING *
)
SELECT t.id, t.seq, t.user_id, t.rate_id, t.side, t.quoted_in, t.status, t.currency, t.grams,
       t.price_per_gram, t.tax_rate, t.pre_tax_amount, t.tax_amount, t.total_amount,
       t.created_at, t.expires_at, t.settled_at, t.expires_at <= clock_timestamp() AS past_expiry
  FROM t\;
PREPARE mv_record (int, unknown) AS
UPDATE idempotency_keys SET response_status = 201, response_bytes = '\x{{BODY_HEX}}'::bytea,
       response_body = convert_from('\x{{BODY_HEX}}'::bytea, 'UTF8')::jsonb
 WHERE (partner_id, key) = ((SELECT partner_id FROM bench_users WHERE n = $1), $2)\;
PREPARE mc_claim (unknown, unknown, unknown) AS
WITH claim AS (INSERT INTO idempotency_keys (partner_id, key, request_hash)
VALUES ($1, $2,
        '\x60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752'::bytea)
ON CONFLICT (partner_id, key) DO UPDATE SET key = EXCLUDED.key
RETURNING request_hash, response_status, response_bytes, response_body AS response_body)
SELECT claim.*, part_trade.*, part_holding.* FROM claim
  LEFT JOIN LATERAL (SELECT true AS found_trade, r.* FROM (
    SELECT t.id, t.seq, t.user_id, t.rate_id, t.side, t.quoted_in, t.status, t.currency, t.grams,
           t.price_per_gram, t.tax_rate, t.pre_tax_amount, t.tax_amount, t.total_amount,
           t.created_at, t.expires_at, t.settled_at, t.expires_at <= clock_timestamp() AS past_expiry
      FROM transactions t WHERE t.partner_id = $1 AND t.id = $3) r
    WHERE claim.response_status IS NULL) AS part_trade ON true
  LEFT JOIN LATERAL (SELECT true AS found_holding, r.* FROM (
    SELECT g.id AS gold_account_id, g.balance, g.cost_basis,
           m.id AS money_account_id, u.kyc_status
      FROM users u
      JOIN accounts g ON g.user_id = u.id AND g.kind = 'user_gold'
      JOIN accounts m ON m.user_id = u.id AND m.kind = 'user_money'
     WHERE u.partner_id = $1 AND u.id = part_trade.user_id
       FOR UPDATE OF g) r
    WHERE claim.response_status IS NULL) AS part_holding ON true\;
PREPARE mc_settle (unknown, unknown) AS
WITH t AS (
    UPDATE transactions SET status = 'confirmed', settled_at = now()
     WHERE id = $1 AND status = 'pending' AND expires_at > clock_timestamp()
    RETURNING *
), entries AS (
    INSERT INTO ledger_entries (transaction_id, account_id, unit, amount)
    SELECT t.id, e.account_id, e.unit, e.amount
      FROM t, (VALUES
        ((SELECT id FROM accounts WHERE user_id = $2 AND kind = 'user_gold'),
         'XAU_G', {{GRAMS}}::numeric),
        ((SELECT id FROM accounts WHERE user_id IS NULL AND kind = 'vault_gold' AND unit = 'XAU_G'),
         'XAU_G', {{NEG_GRAMS}}),
        ((SELECT id FROM accounts WHERE user_id = $2 AND kind = 'user_money'),
         '{{CURRENCY}}', {{NEG_TOTAL}}),
        ((SELECT id FROM accounts WHERE user_id IS NULL AND kind = 'treasury_money' AND unit = '{{CURRENCY}}'),
         '{{CURRENCY}}', {{TOTAL}})) AS e (account_id, unit, amount)
), gold AS (
    UPDATE accounts SET balance = balance + {{GRAMS}}, cost_basis = cost_basis + {{TOTAL}}
     WHERE user_id = $2 AND kind = 'user_gold' AND EXISTS (SELECT FROM t)
), money AS (
    UPDATE accounts SET balance = balance + {{NEG_TOTAL}}
     WHERE user_id = $2 AND kind = 'user_money' AND EXISTS (SELECT FROM t)
)
SELECT t.id, t.seq, t.user_id, t.rate_id, t.side, t.quoted_in, t.status, t.currency, t.grams,
       t.price_per_gram, t.tax_rate, t.pre_tax_amount, t.tax_amount, t.total_amount,
       t.created_at, t.expires_at, t.settled_at, t.expires_at <= clock_timestamp() AS past_expiry
  FROM t\;
PREPARE mc_record (unknown, unknown) AS
UPDATE idempotency_keys SET response_status = 200, response_bytes = '\x{{BODY_HEX}}'::bytea,
       response_body = convert_from('\x{{BODY_HEX}}'::bytea, 'UTF8')::jsonb
 WHERE (partner_id, key) = ($1, $2);
\set prepared 1
\endif
\set n random(0, {{NUSERS_MINUS_1}})
\set k random(1, 9000000000000000000)
-- ---------------------------------------------------------------- verify: 1 round trip
BEGIN ISOLATION LEVEL READ COMMITTED\;
EXECUTE mv_claim(:n, 'pgb-mv-:k')\;
EXECUTE mv_insert(:n)\;
EXECUTE mv_record(:n, 'pgb-mv-:k')\;
COMMIT
\aset
-- \aset keeps the columns of every statement of the message; the insert's
-- come last, so :id is the new trade's id (what verify answers the client).
-- ---------------------------------------------------------------- confirm: 1 round trip
BEGIN ISOLATION LEVEL READ COMMITTED\;
EXECUTE mc_claim(':partner_id', 'pgb-mc-:k', ':id')\;
EXECUTE mc_settle(':id', ':user_id')\;
EXECUTE mc_record(':partner_id', 'pgb-mc-:k')\;
COMMIT;
