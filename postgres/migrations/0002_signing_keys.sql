-- Token-signing keys, shared by every instance (see the keys package).
-- A key's state follows from its dates and the clock. private_key is PKCS#8
-- DER (the raw secret for HMAC), sealed with AES-256-GCM when encrypted.

-- +goose Up
CREATE TABLE signing_keys (
    id           text        PRIMARY KEY,
    algorithm    text        NOT NULL,
    private_key  bytea,
    encrypted    boolean     NOT NULL DEFAULT false,
    public_key   bytea,
    created_at   timestamptz NOT NULL,
    activates_at timestamptz NOT NULL,
    retires_at   timestamptz,
    revoked_at   timestamptz
);

-- +goose Down
DROP TABLE signing_keys;
