-- Users of partners, their trades, and the double-entry ledger that settles them.
-- depends: 0001.partners-and-rates

CREATE TABLE users (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    partner_id       uuid NOT NULL REFERENCES partners (id),
    external_id      text NOT NULL CHECK (length(external_id) BETWEEN 1 AND 128),
    kyc_status       text NOT NULL DEFAULT 'pending' CHECK (kyc_status IN ('pending', 'verified')),
    kyc_verified_at  timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (partner_id, external_id),
    CHECK ((kyc_status = 'verified') = (kyc_verified_at IS NOT NULL))
);

-- One gold and one money account per user; the platform's vault (gold) and
-- treasury (money per currency) are the other side of every posting.
CREATE TABLE accounts (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind        text NOT NULL CHECK (kind IN ('user_gold', 'user_money', 'vault_gold', 'treasury_money')),
    user_id     uuid REFERENCES users (id),
    unit        text NOT NULL,          -- 'XAU_G' for grams, else an ISO currency code
    balance     numeric(20, 4) NOT NULL DEFAULT 0,
    -- Cost of the grams a user holds (average-cost method); user_gold only.
    cost_basis  numeric(20, 2) NOT NULL DEFAULT 0 CHECK (cost_basis >= 0),
    CHECK ((user_id IS NULL) = (kind IN ('vault_gold', 'treasury_money'))),
    CHECK ((unit = 'XAU_G') = (kind IN ('user_gold', 'vault_gold'))),
    -- The rule that matters most: no one ever holds negative gold.
    CONSTRAINT user_gold_never_negative CHECK (kind <> 'user_gold' OR balance >= 0)
);
CREATE UNIQUE INDEX accounts_user_kind ON accounts (user_id, kind) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX accounts_platform_kind_unit ON accounts (kind, unit) WHERE user_id IS NULL;

CREATE TABLE transactions (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Keyset pagination order: newest first by seq.
    seq             bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    partner_id      uuid NOT NULL REFERENCES partners (id),
    user_id         uuid NOT NULL REFERENCES users (id),
    rate_id         uuid NOT NULL REFERENCES rates (id),
    side            text NOT NULL CHECK (side IN ('buy', 'sell')),
    quoted_in       text NOT NULL CHECK (quoted_in IN ('amount', 'grams')),
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'confirmed', 'cancelled', 'expired')),
    currency        char(3) NOT NULL,
    grams           numeric(18, 4) NOT NULL CHECK (grams > 0),
    price_per_gram  numeric(14, 2) NOT NULL CHECK (price_per_gram > 0),
    tax_rate        numeric(6, 4) NOT NULL,
    pre_tax_amount  numeric(16, 2) NOT NULL CHECK (pre_tax_amount >= 0),
    tax_amount      numeric(16, 2) NOT NULL CHECK (tax_amount >= 0),
    total_amount    numeric(16, 2) NOT NULL CHECK (total_amount > 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    settled_at      timestamptz,
    CHECK (pre_tax_amount + tax_amount = total_amount),
    CHECK ((status = 'confirmed') = (settled_at IS NOT NULL))
);
CREATE INDEX transactions_user_seq ON transactions (user_id, seq DESC);
CREATE INDEX transactions_pending_expiry ON transactions (expires_at) WHERE status = 'pending';

CREATE TABLE ledger_entries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id  uuid NOT NULL REFERENCES transactions (id),
    account_id      uuid NOT NULL REFERENCES accounts (id),
    unit            text NOT NULL,
    amount          numeric(20, 4) NOT NULL CHECK (amount <> 0),
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_entries_transaction ON ledger_entries (transaction_id);
CREATE INDEX ledger_entries_account ON ledger_entries (account_id);

-- Double entry, enforced by the database: at commit, the entries of every
-- transaction sum to zero in each unit, whatever code wrote them.
CREATE FUNCTION ledger_transaction_balances() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    unbalanced text;
BEGIN
    SELECT unit INTO unbalanced
      FROM ledger_entries
     WHERE transaction_id = NEW.transaction_id
     GROUP BY unit
    HAVING sum(amount) <> 0
     LIMIT 1;
    IF unbalanced IS NOT NULL THEN
        RAISE EXCEPTION 'ledger entries of transaction % do not balance in %',
            NEW.transaction_id, unbalanced
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER ledger_entries_balance
    AFTER INSERT ON ledger_entries
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_transaction_balances();

-- Every mutating call may carry an Idempotency-Key; the stored response is
-- replayed for the same key and body. The row is inserted first, in the same
-- database transaction as the work it guards, so a concurrent duplicate waits
-- on it; the response columns are filled in before that transaction commits.
CREATE TABLE idempotency_keys (
    partner_id       uuid NOT NULL REFERENCES partners (id),
    key              text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash     bytea NOT NULL,
    response_status  integer,
    response_body    jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (partner_id, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
