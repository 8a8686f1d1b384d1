// Package tollgate is the domain of the Tollgate token-authentication service:
// users, sessions (refresh-token families), the errors the API speaks in, the
// interfaces its stores implement, and Service, the core that logs users in,
// rotates refresh tokens, detects their reuse and revokes sessions.
//
// The core knows nothing of HTTP, SQL or Redis. Those live in sub-packages
// named after what they wrap (http, sqlite, postgres, redis), and cmd/tollgate
// wires them together.
package tollgate

import (
	"context"
	"time"
)

// User is an account that can obtain tokens.
type User struct {
	ID                int64
	Username          string
	Email             string
	PasswordHash      string // encoded, e.g. "argon2$argon2id$v=19$m=19456,t=2,p=1$salt$hash"; "" or "!..." means no usable password
	IsActive          bool
	IsStaff           bool
	CreatedAt         time.Time
	LastLogin         time.Time // zero when never
	PasswordChangedAt time.Time // zero when never changed
}

// Session is one refresh-token family: the chain of refresh tokens that
// descend by rotation from one login. Exactly one refresh token of a live
// session is current; presenting any older one is reuse.
type Session struct {
	ID     string // 128-bit random, hex; the "sid" claim of its tokens
	UserID int64

	CreatedAt  time.Time
	LastUsedAt time.Time
	// ExpiresAt is the expiry of the current refresh token: after it no
	// token of this family can be used, so the row may be flushed.
	ExpiresAt time.Time
	// AbsoluteExpiresAt caps how far rotation can extend the session.
	AbsoluteExpiresAt time.Time

	// CurrentJTI is the jti of the one refresh token that may be used next.
	CurrentJTI      string
	CurrentIssuedAt time.Time
	// PreviousJTI and RotatedAt describe the last rotation; they let a
	// replay of the just-rotated token inside the grace window receive the
	// same successor instead of a second live branch.
	PreviousJTI string
	RotatedAt   time.Time

	RevokedAt    time.Time // zero while live
	RevokeReason string    // RevokeLogout, RevokeReuse, ...

	UserAgent string
	IP        string
}

// Revoked reports whether the session was revoked.
func (s *Session) Revoked() bool { return !s.RevokedAt.IsZero() }

// Reasons recorded when a session is revoked.
const (
	RevokeLogout         = "logout"
	RevokeLogoutAll      = "logout_all"
	RevokeReuse          = "reuse_detected"
	RevokePasswordChange = "password_change"
	RevokeByUser         = "revoked_by_user"
	RevokeUserDisabled   = "user_disabled"
)

// LoginField says which user field the login name is matched against.
type LoginField string

// Login fields.
const (
	LoginByUsername LoginField = "username"
	LoginByEmail    LoginField = "email"
)

// UserStore persists users. Implementations return ErrUserNotFound when a
// user does not exist and ErrUsernameTaken on a unique-key clash; lookups by
// username and email are case-insensitive for email only (as Django's).
type UserStore interface {
	// CreateUser inserts u and sets u.ID (unless u.ID is non-zero, in which
	// case that id is kept, as an import of Django users needs).
	CreateUser(ctx context.Context, u *User) error
	UserByID(ctx context.Context, id int64) (*User, error)
	UserByLogin(ctx context.Context, field LoginField, login string) (*User, error)
	ListUsers(ctx context.Context) ([]*User, error)
	SetUserActive(ctx context.Context, id int64, active bool) error
	// SetPasswordHash stores a new hash. changedAt is zero for a transparent
	// re-hash (upgrade), and the time of the change for a password change.
	SetPasswordHash(ctx context.Context, id int64, hash string, changedAt time.Time) error
	// RecordLogin sets LastLogin alone. A password login does not call it:
	// it passes the time to CreateSession, so the login is one write.
	RecordLogin(ctx context.Context, id int64, at time.Time) error
	DeleteUser(ctx context.Context, id int64) error
}

// LoginRecord is what a successful password login records together with
// the session it opens. The zero value records nothing (a social sign-in,
// a test).
type LoginRecord struct {
	// At, when non-zero, becomes the user's LastLogin.
	At time.Time
	// ClearFailures, when non-empty, is the login-failure counter key to
	// clear: the login counted itself as a failure before hashing (see
	// Service.Login) and takes it back on success.
	ClearFailures string
}

// Rotation is one single-use refresh: the presented refresh token (PresentedJTI)
// is replaced by a new one, if and only if it is still the session's current one,
// the session belongs to UserID and that user is active.
type Rotation struct {
	SessionID string
	// UserID is the user the presented token names. The store checks it
	// against the session and the users table in the same statement, so a
	// refresh needs no read of either before it.
	UserID       int64
	PresentedJTI string
	NewJTI       string
	NewIssuedAt  time.Time
	// NewExpiresAt is the new refresh token's expiry before the session's
	// absolute cap: the store keeps the earlier of it and the session's
	// AbsoluteExpiresAt (when set), because only the row knows the cap.
	NewExpiresAt time.Time
	Now          time.Time
	UserAgent    string
	IP           string
}

// SessionStore persists sessions. Every method is atomic on its own.
type SessionStore interface {
	// CreateSession inserts s; it fails with ErrUserNotFound when s.UserID
	// does not exist. It also makes the login's records (LoginRecord) in the
	// same transaction, so the write a login does after its password hash is
	// this one, and no change is made unless all are.
	CreateSession(ctx context.Context, s *Session, login LoginRecord) error
	// Session returns the session or ErrSessionNotFound.
	Session(ctx context.Context, id string) (*Session, error)
	// RotateSession replaces the current refresh token in one conditional
	// write: it succeeds only when the session exists, r.PresentedJTI is its
	// current jti, it is not revoked, it belongs to r.UserID and that user
	// exists and is active. On success it returns the session as updated
	// (ExpiresAt capped by AbsoluteExpiresAt) and its user; otherwise it
	// returns ErrRotationConflict and changes nothing. Of any number of
	// concurrent calls with the same PresentedJTI at most one succeeds.
	RotateSession(ctx context.Context, r Rotation) (*Session, *User, error)
	// TouchSession records a use of the session without rotation.
	TouchSession(ctx context.Context, id string, at time.Time) error
	// RevokeSession marks one session revoked; it reports whether it was live.
	RevokeSession(ctx context.Context, id string, at time.Time, reason string) (bool, error)
	// RevokeUserSessions revokes every live session of the user except
	// exceptID (may be ""), returning the ids it revoked.
	RevokeUserSessions(ctx context.Context, userID int64, exceptID string, at time.Time, reason string) ([]string, error)
	// ListSessions returns the user's sessions that are live at now, newest first.
	ListSessions(ctx context.Context, userID int64, now time.Time) ([]*Session, error)
	// DeleteExpiredSessions removes at most limit sessions whose ExpiresAt is
	// at or before the given time, and reports how many it removed.
	DeleteExpiredSessions(ctx context.Context, before time.Time, limit int) (int, error)
}

// LoginFailures is persisted brute-force state for one login name.
type LoginFailures struct {
	Count       int
	WindowStart time.Time
	LockedUntil time.Time
}

// ThrottleStore persists per-account login failures, so that a restart does
// not reset an account lockout. Keys are normalised login names; unknown
// names are tracked too, so a lockout reveals nothing about which exist.
type ThrottleStore interface {
	LoginFailures(ctx context.Context, key string) (LoginFailures, error)
	// RecordLoginFailure increments the count atomically (starting a new
	// window when the old one is older than window, or its lock has
	// expired) and sets LockedUntil = now+lockout once the count reaches
	// limit. It returns the new state. Service.Login calls it before the
	// password hash, so concurrent guesses are counted before any is checked.
	RecordLoginFailure(ctx context.Context, key string, now time.Time, window time.Duration, limit int, lockout time.Duration) (LoginFailures, error)
	ResetLoginFailures(ctx context.Context, key string) error
}

// Store is everything the Service persists.
type Store interface {
	UserStore
	SessionStore
	ThrottleStore
	// Ping reports whether the store is reachable (readiness).
	Ping(ctx context.Context) error
	Close() error
}

// PasswordHasher hashes and verifies passwords. Verify reports needsRehash
// when the hash is of an older algorithm or weaker parameters than the
// hasher's own, so the service upgrades it after a successful login.
type PasswordHasher interface {
	Hash(password string) (string, error)
	Verify(password, encoded string) (ok, needsRehash bool, err error)
}

// Limiter is a request-rate limiter keyed by a string (an IP, an account).
// Allow takes one unit; when the key is over its limit it reports false and
// how long until a request would be allowed.
type Limiter interface {
	Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error)
}
