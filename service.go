package tollgate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Config holds the core's settings. Zero values of durations are replaced by
// the production defaults in NewService; see DefaultConfig.
type Config struct {
	AccessTokenLifetime  time.Duration // ACCESS_TOKEN_LIFETIME, default 15m
	RefreshTokenLifetime time.Duration // REFRESH_TOKEN_LIFETIME, default 7 days
	// SessionMaxLifetime caps how long rotation can keep one login alive;
	// 0 means no cap.
	SessionMaxLifetime  time.Duration
	RotateRefreshTokens bool // ROTATE_REFRESH_TOKENS, default on
	// RefreshGraceWindow lets a replay of the just-rotated refresh token,
	// within this long after the rotation, receive the same successor
	// instead of being treated as theft. 0 (the default) turns it off.
	RefreshGraceWindow time.Duration
	LoginField         LoginField // username (default) or email
	UpdateLastLogin    bool
	// KeepPasswordHashes turns off the transparent upgrade of older hashes
	// (Django's pbkdf2_sha256, bcrypt_sha256, ...) to argon2id on login:
	// for running side by side with a Django service on one user table
	// that must keep verifying them, and for like-for-like benchmarks.
	KeepPasswordHashes bool

	// Per-account brute-force regulation: after LoginFailureLimit failures
	// within LoginFailureWindow the login name is locked for LockoutDuration.
	// LoginFailureLimit 0 turns it off.
	LoginFailureLimit  int
	LoginFailureWindow time.Duration
	LockoutDuration    time.Duration

	// ClaimsHook adds custom claims to access tokens (e.g. org_id, role).
	// Token payloads are readable by anyone who holds them: no secrets.
	ClaimsHook func(ctx context.Context, u *User) (map[string]any, error)

	// Events receives security events; nil discards them.
	Events EventSink
	// Now is the clock; nil means time.Now. Tests inject one.
	Now func() time.Time
	// Rand is the source of token ids; nil means crypto/rand.
	Rand io.Reader
}

// DefaultConfig returns the production defaults.
func DefaultConfig() Config {
	return Config{
		AccessTokenLifetime:  15 * time.Minute,
		RefreshTokenLifetime: 7 * 24 * time.Hour,
		SessionMaxLifetime:   30 * 24 * time.Hour,
		RotateRefreshTokens:  true,
		LoginField:           LoginByUsername,
		UpdateLastLogin:      true,
		LoginFailureLimit:    10,
		LoginFailureWindow:   15 * time.Minute,
		LockoutDuration:      15 * time.Minute,
	}
}

// Service is the core: it logs users in, rotates refresh tokens with theft
// detection, verifies tokens and revokes sessions. It is safe for concurrent
// use; all state lives in the Store.
type Service struct {
	cfg    Config
	store  Store
	tokens TokenCodec
	hasher PasswordHasher
	events EventSink
	now    func() time.Time
	rand   io.Reader
	// dummyHash is verified against when the login name is unknown, so an
	// unknown user costs the same time as a wrong password.
	dummyHash string
}

// NewService returns a Service over the given store, token codec and hasher.
func NewService(store Store, tokens TokenCodec, hasher PasswordHasher, cfg Config) (*Service, error) {
	if store == nil || tokens == nil || hasher == nil {
		return nil, errors.New("tollgate: NewService needs a store, a token codec and a password hasher")
	}
	def := DefaultConfig()
	if cfg.AccessTokenLifetime <= 0 {
		cfg.AccessTokenLifetime = def.AccessTokenLifetime
	}
	if cfg.RefreshTokenLifetime <= 0 {
		cfg.RefreshTokenLifetime = def.RefreshTokenLifetime
	}
	if cfg.LoginField == "" {
		cfg.LoginField = def.LoginField
	}
	if cfg.LoginField != LoginByUsername && cfg.LoginField != LoginByEmail {
		return nil, fmt.Errorf("tollgate: login field must be %q or %q, got %q", LoginByUsername, LoginByEmail, cfg.LoginField)
	}
	if cfg.LoginFailureLimit > 0 && (cfg.LoginFailureWindow <= 0 || cfg.LockoutDuration <= 0) {
		return nil, errors.New("tollgate: a login failure limit needs a positive window and lockout duration")
	}
	s := &Service{cfg: cfg, store: store, tokens: tokens, hasher: hasher, events: cfg.Events, now: cfg.Now, rand: cfg.Rand}
	if s.events == nil {
		s.events = EventSinkFunc(func(context.Context, Event) {})
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	dummy, err := hasher.Hash("tollgate-timing-equaliser")
	if err != nil {
		return nil, fmt.Errorf("tollgate: hashing the timing dummy: %w", err)
	}
	s.dummyHash = dummy
	return s, nil
}

// Config returns the settings in force (after defaults).
func (s *Service) Config() Config { return s.cfg }

// Tokens returns the service's token codec.
func (s *Service) Tokens() TokenCodec { return s.tokens }

// Store returns the service's store.
func (s *Service) Store() Store { return s.store }

// randomID returns 128 random bits, hex encoded: jti and session ids.
func (s *Service) randomID() (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(s.rand, b[:]); err != nil {
		return "", fmt.Errorf("reading random: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// maxLoginKey bounds the failure-counter key (and the login name in
// events): a login name longer than any stored one identifies no one.
const maxLoginKey = 255

// normaliseLogin is the key of the per-account failure counter.
func normaliseLogin(login string) string {
	return truncate(strings.ToLower(strings.TrimSpace(login)), maxLoginKey)
}

// Login checks credentials and opens a new session. Unknown users, wrong
// passwords and inactive accounts all return ErrInvalidCredentials after the
// same amount of hashing work.
func (s *Service) Login(ctx context.Context, login, password string, info RequestInfo) (*Pair, *User, error) {
	now := s.now()
	key := normaliseLogin(login)
	throttled := s.cfg.LoginFailureLimit > 0 && key != ""
	var attempt LoginFailures
	if throttled {
		f, err := s.store.LoginFailures(ctx, key)
		if err != nil {
			return nil, nil, fmt.Errorf("reading login failures: %w", err)
		}
		if now.Before(f.LockedUntil) {
			s.events.Record(ctx, Event{Type: EventRateLimited, Login: key, IP: info.IP, UserAgent: info.UserAgent, Reason: "account_locked"})
			return nil, nil, RateLimited(f.LockedUntil.Sub(now))
		}
		// Count this attempt as a failure before hashing, and take it back
		// on success. Counted after the hash, concurrent guesses would all
		// pass the check above while the first is still hashing, and the
		// lockout would never bite; counted first, the store's atomic
		// increment lets at most LoginFailureLimit attempts reach the hash.
		attempt, err = s.store.RecordLoginFailure(ctx, key, now, s.cfg.LoginFailureWindow, s.cfg.LoginFailureLimit, s.cfg.LockoutDuration)
		if err != nil {
			return nil, nil, fmt.Errorf("recording login attempt: %w", err)
		}
		if attempt.Count > s.cfg.LoginFailureLimit {
			retry := attempt.LockedUntil.Sub(now)
			if retry <= 0 {
				retry = s.cfg.LockoutDuration
			}
			s.events.Record(ctx, Event{Type: EventRateLimited, Login: key, IP: info.IP, UserAgent: info.UserAgent, Reason: "account_locked"})
			return nil, nil, RateLimited(retry)
		}
	}

	u, err := s.store.UserByLogin(ctx, s.cfg.LoginField, login)
	if err != nil && !errors.Is(err, ErrUserNotFound) {
		return nil, nil, fmt.Errorf("looking up user: %w", err)
	}
	hash := s.dummyHash
	if u != nil && u.PasswordHash != "" {
		hash = u.PasswordHash
	}
	ok, needsRehash, verr := s.hasher.Verify(password, hash)
	if verr != nil {
		// An unparseable stored hash is an unusable password, not a 500.
		ok = false
	}
	if u == nil || !ok || !u.IsActive || u.PasswordHash == "" {
		reason := "bad_password"
		switch {
		case u == nil:
			reason = "unknown_user"
		case !u.IsActive:
			reason = "inactive"
		}
		ev := Event{Type: EventLoginFailed, Login: key, IP: info.IP, UserAgent: info.UserAgent, Reason: reason}
		if u != nil {
			ev.UserID = u.ID
		}
		s.events.Record(ctx, ev)
		if throttled && attempt.Count == s.cfg.LoginFailureLimit {
			s.events.Record(ctx, Event{Type: EventAccountLocked, Login: key, IP: info.IP, UserAgent: info.UserAgent})
		}
		return nil, nil, ErrInvalidCredentials
	}

	if needsRehash && !s.cfg.KeepPasswordHashes {
		if h, err := s.hasher.Hash(password); err == nil {
			if err := s.store.SetPasswordHash(ctx, u.ID, h, time.Time{}); err != nil {
				return nil, nil, fmt.Errorf("upgrading password hash: %w", err)
			}
			u.PasswordHash = h
			s.events.Record(ctx, Event{Type: EventPasswordHashUpgraded, UserID: u.ID})
		}
	}
	// The last login, and taking back the failure counted before the hash,
	// are recorded by the same transaction that creates the session: after
	// the hash, a login is one write (one fsync on SQLite).
	var record LoginRecord
	if s.cfg.UpdateLastLogin {
		record.At = now
	}
	if throttled {
		record.ClearFailures = key
	}
	pair, err := s.openSession(ctx, u, info, record)
	if err != nil {
		return nil, nil, err
	}
	if !record.At.IsZero() {
		u.LastLogin = record.At
	}
	s.events.Record(ctx, Event{Type: EventLoginSucceeded, UserID: u.ID, SessionID: pair.SessionID, IP: info.IP, UserAgent: info.UserAgent})
	return pair, u, nil
}

// OpenSession starts a new session for an already authenticated user (a
// password login, or a social sign-in) and returns its first token pair.
func (s *Service) OpenSession(ctx context.Context, u *User, info RequestInfo) (*Pair, error) {
	return s.openSession(ctx, u, info, LoginRecord{})
}

// openSession is OpenSession that also makes a password login's records, in
// the store's one write that creates the session.
func (s *Service) openSession(ctx context.Context, u *User, info RequestInfo, record LoginRecord) (*Pair, error) {
	if !u.IsActive {
		return nil, ErrInvalidCredentials
	}
	now := s.now().Truncate(time.Second)
	sid, err := s.randomID()
	if err != nil {
		return nil, err
	}
	jti, err := s.randomID()
	if err != nil {
		return nil, err
	}
	sess := &Session{
		ID: sid, UserID: u.ID,
		CreatedAt: now, LastUsedAt: now,
		CurrentJTI: jti, CurrentIssuedAt: now,
		UserAgent: truncate(info.UserAgent, 512), IP: info.IP,
	}
	if s.cfg.SessionMaxLifetime > 0 {
		sess.AbsoluteExpiresAt = now.Add(s.cfg.SessionMaxLifetime)
	}
	sess.ExpiresAt = s.refreshExpiry(now, sess)
	if err := s.store.CreateSession(ctx, sess, record); err != nil {
		return nil, fmt.Errorf("creating session: %w", err)
	}
	return s.mintPair(ctx, u, sess, true)
}

// refreshExpiry is when a refresh token issued now in sess expires: the
// refresh lifetime, capped by the session's absolute lifetime. A login uses
// it; a rotation leaves the cap to RotateSession, which holds the row.
func (s *Service) refreshExpiry(now time.Time, sess *Session) time.Time {
	exp := now.Add(s.cfg.RefreshTokenLifetime)
	if !sess.AbsoluteExpiresAt.IsZero() && sess.AbsoluteExpiresAt.Before(exp) {
		exp = sess.AbsoluteExpiresAt
	}
	return exp
}

// mintPair signs a new access token and, when withRefresh, the session's
// current refresh token. The refresh token is a pure function of the session
// row (jti, iat, exp, sid, user), so re-minting it inside the grace window
// yields the same token rather than a new branch.
func (s *Service) mintPair(ctx context.Context, u *User, sess *Session, withRefresh bool) (*Pair, error) {
	now := s.now().Truncate(time.Second)
	uid := strconv.FormatInt(u.ID, 10)
	jti, err := s.randomID()
	if err != nil {
		return nil, err
	}
	access := &Claims{
		Type: AccessToken, JTI: jti, UserID: uid, SessionID: sess.ID,
		IssuedAt: now, ExpiresAt: now.Add(s.cfg.AccessTokenLifetime),
	}
	if s.cfg.ClaimsHook != nil {
		extra, err := s.cfg.ClaimsHook(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("custom claims hook: %w", err)
		}
		access.Extra = extra
	}
	pair := &Pair{SessionID: sess.ID, AccessExpiresAt: access.ExpiresAt}
	if pair.Access, err = s.tokens.Sign(access); err != nil {
		return nil, fmt.Errorf("signing access token: %w", err)
	}
	if withRefresh {
		refresh := &Claims{
			Type: RefreshToken, JTI: sess.CurrentJTI, UserID: uid, SessionID: sess.ID,
			IssuedAt: sess.CurrentIssuedAt, ExpiresAt: sess.ExpiresAt,
		}
		if pair.Refresh, err = s.tokens.Sign(refresh); err != nil {
			return nil, fmt.Errorf("signing refresh token: %w", err)
		}
		pair.RefreshExpiresAt = sess.ExpiresAt
	}
	return pair, nil
}

// Refresh exchanges a refresh token for a new access token and, with
// rotation on, a new refresh token in the same session. The presented token
// becomes unusable at once. Presenting a token that was already rotated
// (outside the grace window) revokes the whole session and returns
// ErrTokenReused: either a thief or the victim holds the newer token, and
// neither can be told apart, so both must log in again.
//
// With rotation on, a good refresh is one store call: RotateSession checks
// the token is current, the session live and its user active, caps the
// expiry and returns the row and the user. Only when it refuses does
// Refresh load the session and user to find out why.
func (s *Service) Refresh(ctx context.Context, raw string, info RequestInfo) (*Pair, error) {
	c, err := s.tokens.Parse(raw, RefreshToken)
	if err != nil {
		return nil, err
	}
	if !s.cfg.RotateRefreshTokens {
		sess, u, err := s.liveSession(ctx, c, info)
		if err != nil {
			return nil, err
		}
		if c.JTI != sess.CurrentJTI {
			return nil, s.reuseDetected(ctx, sess, c, info)
		}
		if err := s.store.TouchSession(ctx, sess.ID, s.now()); err != nil {
			return nil, fmt.Errorf("touching session: %w", err)
		}
		return s.mintPair(ctx, u, sess, false)
	}

	uid, err := tokenUserID(c)
	if err != nil {
		return nil, err
	}
	now := s.now().Truncate(time.Second)
	newJTI, err := s.randomID()
	if err != nil {
		return nil, err
	}
	sess, u, err := s.store.RotateSession(ctx, Rotation{
		SessionID: c.SessionID, UserID: uid, PresentedJTI: c.JTI, NewJTI: newJTI,
		NewIssuedAt: now, NewExpiresAt: now.Add(s.cfg.RefreshTokenLifetime), Now: now,
		UserAgent: truncate(info.UserAgent, 512), IP: info.IP,
	})
	if err == nil {
		return s.mintPair(ctx, u, sess, true)
	}
	if !errors.Is(err, ErrRotationConflict) {
		return nil, fmt.Errorf("rotating refresh token: %w", err)
	}
	// Refused: the session is gone or revoked, the user gone or inactive,
	// the token names another user, or it is not the current one (an older
	// token, or a concurrent refresh won the race). Look to find which.
	sess, u, err = s.liveSession(ctx, c, info)
	if err != nil {
		return nil, err
	}
	if c.JTI == sess.CurrentJTI {
		// Current, live and active now, but not when the statement ran:
		// the user was deactivated and reactivated in between. That is no
		// replay, so nothing is revoked; the client may retry.
		return nil, ErrRotationConflict
	}
	if s.inGraceWindow(sess, c.JTI) {
		return s.mintPair(ctx, u, sess, true)
	}
	return nil, s.reuseDetected(ctx, sess, c, info)
}

// inGraceWindow reports whether jti is the token rotated away most recently
// and the rotation is recent enough to forgive a replay of it.
func (s *Service) inGraceWindow(sess *Session, jti string) bool {
	return s.cfg.RefreshGraceWindow > 0 && jti == sess.PreviousJTI &&
		s.now().Before(sess.RotatedAt.Add(s.cfg.RefreshGraceWindow))
}

// liveSession loads the session and user behind a verified refresh token and
// refuses revoked sessions and inactive or vanished users.
func (s *Service) liveSession(ctx context.Context, c *Claims, info RequestInfo) (*Session, *User, error) {
	uid, err := tokenUserID(c)
	if err != nil {
		return nil, nil, err
	}
	sess, err := s.store.Session(ctx, c.SessionID)
	if errors.Is(err, ErrSessionNotFound) {
		// Deleting a user deletes its sessions: say so rather than
		// "blacklisted", as SimpleJWT does for a vanished user.
		return nil, nil, s.goneUserOr(ctx, uid, ErrTokenBlacklisted)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("loading session: %w", err)
	}
	if sess.UserID != uid {
		return nil, nil, ErrTokenInvalid
	}
	if sess.Revoked() {
		s.events.Record(ctx, Event{Type: EventBlacklistedTokenUsed, UserID: sess.UserID, SessionID: sess.ID, JTI: c.JTI, IP: info.IP, UserAgent: info.UserAgent, Reason: sess.RevokeReason})
		return nil, nil, s.goneUserOr(ctx, uid, ErrTokenBlacklisted)
	}
	u, err := s.store.UserByID(ctx, uid)
	if errors.Is(err, ErrUserNotFound) {
		s.revoke(ctx, sess.ID, RevokeUserDisabled, info)
		return nil, nil, ErrInvalidCredentials
	}
	if err != nil {
		return nil, nil, fmt.Errorf("loading user: %w", err)
	}
	if !u.IsActive {
		s.revoke(ctx, sess.ID, RevokeUserDisabled, info)
		return nil, nil, ErrInvalidCredentials
	}
	return sess, u, nil
}

// tokenUserID returns the user id a refresh token names, or ErrTokenInvalid
// when the token has no session or no numeric user id.
func tokenUserID(c *Claims) (int64, error) {
	if c.SessionID == "" {
		return 0, ErrTokenInvalid
	}
	uid, err := strconv.ParseInt(c.UserID, 10, 64)
	if err != nil {
		return 0, ErrTokenInvalid
	}
	return uid, nil
}

// goneUserOr returns ErrInvalidCredentials (no_active_account) when the
// user was deleted or deactivated, and otherwise fallback. It is consulted
// only on paths that already fail, so it costs nothing on a good refresh.
func (s *Service) goneUserOr(ctx context.Context, uid int64, fallback error) error {
	u, err := s.store.UserByID(ctx, uid)
	switch {
	case errors.Is(err, ErrUserNotFound):
		return ErrInvalidCredentials
	case err != nil:
		return fmt.Errorf("loading user: %w", err)
	case !u.IsActive:
		return ErrInvalidCredentials
	}
	return fallback
}

// reuseDetected revokes the session of a replayed refresh token.
func (s *Service) reuseDetected(ctx context.Context, sess *Session, c *Claims, info RequestInfo) error {
	s.events.Record(ctx, Event{Type: EventRefreshTokenReused, UserID: sess.UserID, SessionID: sess.ID, JTI: c.JTI, IP: info.IP, UserAgent: info.UserAgent})
	if err := s.revoke(ctx, sess.ID, RevokeReuse, info); err != nil {
		return err
	}
	return ErrTokenReused
}

func (s *Service) revoke(ctx context.Context, sid, reason string, info RequestInfo) error {
	sess, err := s.store.Session(ctx, sid)
	if err != nil {
		if errors.Is(err, ErrSessionNotFound) {
			return nil
		}
		return fmt.Errorf("loading session: %w", err)
	}
	revoked, err := s.store.RevokeSession(ctx, sid, s.now(), reason)
	if err != nil {
		return fmt.Errorf("revoking session: %w", err)
	}
	if revoked {
		s.events.Record(ctx, Event{Type: EventFamilyRevoked, UserID: sess.UserID, SessionID: sid, IP: info.IP, UserAgent: info.UserAgent, Reason: reason})
	}
	return nil
}

// Verify checks a token of either type: signature, expiry, claims; a refresh
// token must also be the current token of a live session. It never revokes.
func (s *Service) Verify(ctx context.Context, raw string) (*Claims, error) {
	c, err := s.tokens.Parse(raw, "")
	if err != nil {
		return nil, err
	}
	if c.Type != RefreshToken {
		return c, nil
	}
	if c.SessionID == "" {
		return nil, ErrTokenInvalid
	}
	sess, err := s.store.Session(ctx, c.SessionID)
	if errors.Is(err, ErrSessionNotFound) {
		return nil, ErrTokenBlacklisted
	}
	if err != nil {
		return nil, fmt.Errorf("loading session: %w", err)
	}
	if sess.Revoked() || (c.JTI != sess.CurrentJTI && !s.inGraceWindow(sess, c.JTI)) {
		return nil, ErrTokenBlacklisted
	}
	return c, nil
}

// Logout revokes the session of the presented refresh token. A token that
// was already rotated away is treated as reuse (the session is revoked all
// the same, and the caller gets ErrTokenReused).
func (s *Service) Logout(ctx context.Context, raw string, info RequestInfo) error {
	c, err := s.tokens.Parse(raw, RefreshToken)
	if err != nil {
		return err
	}
	if c.SessionID == "" {
		return ErrTokenInvalid
	}
	sess, err := s.store.Session(ctx, c.SessionID)
	if errors.Is(err, ErrSessionNotFound) {
		return ErrTokenBlacklisted
	}
	if err != nil {
		return fmt.Errorf("loading session: %w", err)
	}
	if sess.Revoked() {
		return ErrTokenBlacklisted
	}
	if c.JTI != sess.CurrentJTI && !s.inGraceWindow(sess, c.JTI) {
		return s.reuseDetected(ctx, sess, c, info)
	}
	s.events.Record(ctx, Event{Type: EventLogout, UserID: sess.UserID, SessionID: sess.ID, IP: info.IP, UserAgent: info.UserAgent})
	return s.revoke(ctx, sess.ID, RevokeLogout, info)
}

// LogoutAll revokes every session of the user ("log out everywhere").
func (s *Service) LogoutAll(ctx context.Context, userID int64, info RequestInfo) (int, error) {
	ids, err := s.store.RevokeUserSessions(ctx, userID, "", s.now(), RevokeLogoutAll)
	if err != nil {
		return 0, fmt.Errorf("revoking sessions: %w", err)
	}
	s.events.Record(ctx, Event{Type: EventLogoutAll, UserID: userID, IP: info.IP, UserAgent: info.UserAgent, Reason: strconv.Itoa(len(ids)) + " sessions"})
	for _, id := range ids {
		s.events.Record(ctx, Event{Type: EventFamilyRevoked, UserID: userID, SessionID: id, IP: info.IP, UserAgent: info.UserAgent, Reason: RevokeLogoutAll})
	}
	return len(ids), nil
}

// Sessions lists the user's live sessions, newest first.
func (s *Service) Sessions(ctx context.Context, userID int64) ([]*Session, error) {
	return s.store.ListSessions(ctx, userID, s.now())
}

// RevokeSession revokes one of the user's own sessions. A session of another
// user is reported as not found.
func (s *Service) RevokeSession(ctx context.Context, userID int64, sessionID string, info RequestInfo) error {
	sess, err := s.store.Session(ctx, sessionID)
	if err != nil {
		return err
	}
	if sess.UserID != userID || sess.Revoked() || !s.now().Before(sess.ExpiresAt) {
		return ErrSessionNotFound
	}
	return s.revoke(ctx, sessionID, RevokeByUser, info)
}

// SessionRevoked reports whether the session is revoked or gone; the
// middleware calls it when access-token revocation is on.
func (s *Service) SessionRevoked(ctx context.Context, sessionID string) (bool, error) {
	sess, err := s.store.Session(ctx, sessionID)
	if errors.Is(err, ErrSessionNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return sess.Revoked(), nil
}

// User returns the user with the given id.
func (s *Service) User(ctx context.Context, id int64) (*User, error) {
	return s.store.UserByID(ctx, id)
}

// Password rules, after Django's default validators.
const (
	MinPasswordLength = 8
	MaxPasswordLength = 4096
)

// ValidatePassword applies the password rules to a new password and returns
// an EInvalid error naming field when it breaks one.
func ValidatePassword(field, password string, u *User) error {
	n := utf8.RuneCountInString(password)
	switch {
	case n < MinPasswordLength:
		return FieldError(field, fmt.Sprintf("This password is too short. It must contain at least %d characters.", MinPasswordLength))
	case len(password) > MaxPasswordLength:
		return FieldError(field, "This password is too long.")
	case strings.Trim(password, "0123456789") == "":
		return FieldError(field, "This password is entirely numeric.")
	case u != nil && (strings.EqualFold(password, u.Username) || (u.Email != "" && strings.EqualFold(password, u.Email))):
		return FieldError(field, "The password is too similar to the username or email.")
	}
	return nil
}

// ChangePassword checks the old password, stores the new one and revokes
// every other session of the user; the session it is called from
// (currentSessionID, may be "") stays logged in.
func (s *Service) ChangePassword(ctx context.Context, userID int64, currentSessionID, oldPassword, newPassword string, info RequestInfo) error {
	u, err := s.store.UserByID(ctx, userID)
	if err != nil {
		return err
	}
	ok, _, verr := s.hasher.Verify(oldPassword, u.PasswordHash)
	if verr != nil || !ok {
		return FieldError("old_password", "Your old password was entered incorrectly. Please enter it again.")
	}
	if err := ValidatePassword("new_password", newPassword, u); err != nil {
		return err
	}
	h, err := s.hasher.Hash(newPassword)
	if err != nil {
		return fmt.Errorf("hashing password: %w", err)
	}
	now := s.now()
	if err := s.store.SetPasswordHash(ctx, userID, h, now); err != nil {
		return fmt.Errorf("storing password: %w", err)
	}
	ids, err := s.store.RevokeUserSessions(ctx, userID, currentSessionID, now, RevokePasswordChange)
	if err != nil {
		return fmt.Errorf("revoking sessions: %w", err)
	}
	s.events.Record(ctx, Event{Type: EventPasswordChanged, UserID: userID, SessionID: currentSessionID, IP: info.IP, UserAgent: info.UserAgent})
	for _, id := range ids {
		s.events.Record(ctx, Event{Type: EventFamilyRevoked, UserID: userID, SessionID: id, IP: info.IP, UserAgent: info.UserAgent, Reason: RevokePasswordChange})
	}
	return nil
}

// CreateUser creates an active user with the given password (validated by
// the password rules unless it is empty, which leaves no usable password).
func (s *Service) CreateUser(ctx context.Context, username, email, password string, staff bool) (*User, error) {
	username, err := NormaliseUsername(username)
	if err != nil {
		return nil, err
	}
	email = strings.TrimSpace(email)
	if email != "" {
		if err := validateEmail(email); err != nil {
			return nil, err
		}
		// Emails are not unique in Django's table, but a login by email
		// needs them to be: refuse a second account with the same one.
		_, err := s.store.UserByLogin(ctx, LoginByEmail, email)
		if err == nil {
			return nil, &Error{Code: EConflict, Message: "A user with that email already exists."}
		}
		if !errors.Is(err, ErrUserNotFound) {
			return nil, fmt.Errorf("checking email: %w", err)
		}
	}
	u := &User{Username: username, Email: email, IsActive: true, IsStaff: staff, CreatedAt: s.now()}
	if password != "" {
		if err := ValidatePassword("password", password, u); err != nil {
			return nil, err
		}
		h, err := s.hasher.Hash(password)
		if err != nil {
			return nil, fmt.Errorf("hashing password: %w", err)
		}
		u.PasswordHash = h
	}
	if err := s.store.CreateUser(ctx, u); err != nil {
		return nil, err
	}
	return u, nil
}

// MaxUsernameLength is Django's username length.
const MaxUsernameLength = 150

// NormaliseUsername applies Django's rules for a new username: NFKC
// normalisation (so a full-width "ｂob" is "bob"), at most 150 characters,
// and only letters, digits and @ . + - _ (UnicodeUsernameValidator). Control
// characters, spaces and look-alike forms are refused with an EInvalid
// field error.
func NormaliseUsername(username string) (string, error) {
	username = norm.NFKC.String(strings.TrimSpace(username))
	switch {
	case username == "":
		return "", FieldError("username", "This field may not be blank.")
	case utf8.RuneCountInString(username) > MaxUsernameLength:
		return "", FieldError("username", fmt.Sprintf("Ensure this field has no more than %d characters.", MaxUsernameLength))
	}
	for _, r := range username {
		if !unicode.IsLetter(r) && !unicode.IsNumber(r) && !unicode.IsMark(r) && !strings.ContainsRune("@.+-_", r) {
			return "", FieldError("username", "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.")
		}
	}
	return username, nil
}

// validateEmail accepts a bare address (no display name), as Django's
// EmailField would.
func validateEmail(email string) error {
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || len(email) > 254 {
		return FieldError("email", "Enter a valid email address.")
	}
	return nil
}

// SetUserActive activates or deactivates a user; deactivation revokes every
// session of the user.
func (s *Service) SetUserActive(ctx context.Context, userID int64, active bool) error {
	if err := s.store.SetUserActive(ctx, userID, active); err != nil {
		return err
	}
	if !active {
		ids, err := s.store.RevokeUserSessions(ctx, userID, "", s.now(), RevokeUserDisabled)
		if err != nil {
			return fmt.Errorf("revoking sessions: %w", err)
		}
		for _, id := range ids {
			s.events.Record(ctx, Event{Type: EventFamilyRevoked, UserID: userID, SessionID: id, Reason: RevokeUserDisabled})
		}
	}
	return nil
}

// FlushExpired deletes sessions whose every token has expired, in batches
// of batch rows so no statement holds locks for long. It returns how many
// it deleted.
func (s *Service) FlushExpired(ctx context.Context, batch int) (int, error) {
	if batch <= 0 {
		batch = 1000
	}
	now := s.now()
	total := 0
	for {
		n, err := s.store.DeleteExpiredSessions(ctx, now, batch)
		total += n
		if err != nil {
			return total, fmt.Errorf("flushing expired sessions: %w", err)
		}
		if n < batch {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary.
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
