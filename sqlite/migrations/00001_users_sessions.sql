-- Users, sessions (refresh-token families) and per-login failure counters.
-- Times are unix seconds in UTC; NULL means "never" (zero in Go).
-- Later migrations number on from here: 00002 signing keys, 00003 social identities.

-- +goose Up
-- AUTOINCREMENT: an id is never handed out twice, even after the newest user
-- is deleted, since access tokens name their user by id. An explicit id (a
-- Django import) moves the counter past itself.
CREATE TABLE users (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    username            TEXT    NOT NULL UNIQUE,  -- BINARY collation: case-sensitive, as Django's
    email               TEXT    NOT NULL DEFAULT '',
    password_hash       TEXT    NOT NULL DEFAULT '',
    is_active           INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    is_staff            INTEGER NOT NULL DEFAULT 0 CHECK (is_staff IN (0, 1)),
    created_at          INTEGER NOT NULL,
    last_login          INTEGER,
    password_changed_at INTEGER
) STRICT;

-- Login by email compares case-insensitively; emails are not unique (Django's are not).
CREATE INDEX users_lower_email ON users (lower(email));

CREATE TABLE sessions (
    id                  TEXT    NOT NULL PRIMARY KEY,
    user_id             INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at          INTEGER NOT NULL,
    last_used_at        INTEGER NOT NULL,
    expires_at          INTEGER NOT NULL,
    absolute_expires_at INTEGER,
    current_jti         TEXT    NOT NULL,
    current_issued_at   INTEGER NOT NULL,
    previous_jti        TEXT    NOT NULL DEFAULT '',
    rotated_at          INTEGER,
    revoked_at          INTEGER,
    revoke_reason       TEXT    NOT NULL DEFAULT '',
    user_agent          TEXT    NOT NULL DEFAULT '',
    ip                  TEXT    NOT NULL DEFAULT ''
) STRICT;

-- A user's sessions, newest first (ListSessions, RevokeUserSessions, the cascade).
CREATE INDEX sessions_user_created ON sessions (user_id, created_at);
-- The flush of expired sessions.
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE login_failures (
    key          TEXT    NOT NULL PRIMARY KEY,
    failures     INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    locked_until INTEGER
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE login_failures;
DROP TABLE sessions;
DROP TABLE users;
