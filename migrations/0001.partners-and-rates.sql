-- Partners call the API with a key; rates are published by the operator's feed.
-- depends:

CREATE TABLE partners (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name         text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    -- The key is "gp_<key_id>_<secret>": key_id finds the row, only sha256(secret) is kept.
    key_id       text NOT NULL UNIQUE,
    key_hash     bytea NOT NULL CHECK (length(key_hash) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    disabled_at  timestamptz
);

CREATE TABLE rates (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    currency      char(3) NOT NULL,
    buy_price     numeric(14, 2) NOT NULL CHECK (buy_price > 0),
    sell_price    numeric(14, 2) NOT NULL CHECK (sell_price > 0),
    tax_rate      numeric(6, 4) NOT NULL CHECK (tax_rate >= 0 AND tax_rate < 1),
    source        text NOT NULL,
    published_at  timestamptz NOT NULL DEFAULT now(),
    valid_until   timestamptz NOT NULL,
    CHECK (sell_price <= buy_price),
    CHECK (valid_until > published_at)
);
CREATE INDEX rates_currency_published_at ON rates (currency, published_at DESC);
