-- Token-signing keys, shared by every instance (see the keys package).
-- A key's state follows from its dates and the clock; nothing here changes
-- when a key retires by itself. private_key is PKCS#8 DER (the raw secret
-- for HMAC), sealed with AES-256-GCM when encrypted = 1.

-- +goose Up
CREATE TABLE signing_keys (
    id           TEXT    NOT NULL PRIMARY KEY,
    algorithm    TEXT    NOT NULL,
    private_key  BLOB,
    encrypted    INTEGER NOT NULL DEFAULT 0 CHECK (encrypted IN (0, 1)),
    public_key   BLOB,
    created_at   INTEGER NOT NULL,
    activates_at INTEGER NOT NULL,
    retires_at   INTEGER,
    revoked_at   INTEGER
) STRICT;

-- +goose Down
DROP TABLE signing_keys;
