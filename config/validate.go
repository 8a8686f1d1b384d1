package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/password"
	"github.com/tollgate/tollgate/token"
)

// Algorithms are the signing algorithms ALGORITHM accepts.
var Algorithms = []string{"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"}

// MaxRefreshGraceWindow bounds REFRESH_GRACE_WINDOW: inside the window a
// replayed refresh token is forgiven, so a long one hands a thief time.
const MaxRefreshGraceWindow = time.Minute

// IsHMAC reports whether alg is one of the HS* algorithms (a shared secret).
func IsHMAC(alg string) bool { return strings.HasPrefix(alg, "HS") }

// Validate checks every setting and returns all problems at once, each
// naming its TOLLGATE_* variable. The signing key's presence and strength
// are checked by KeySet, since commands that never sign (users, migrate)
// must run without one.
func (c *Config) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s%s: %s", EnvPrefix, name, fmt.Sprintf(format, args...)))
	}

	if c.AccessTokenLifetime <= 0 {
		bad("ACCESS_TOKEN_LIFETIME", "must be positive")
	}
	if c.RefreshTokenLifetime <= 0 {
		bad("REFRESH_TOKEN_LIFETIME", "must be positive")
	}
	if c.RotateRefreshTokens && !c.BlacklistAfterRotation {
		bad("BLACKLIST_AFTER_ROTATION", "is off while ROTATE_REFRESH_TOKENS is on: rotation without blacklisting gives no theft detection "+
			"(a stolen refresh token keeps working alongside the victim's). Turn BLACKLIST_AFTER_ROTATION on, or turn rotation off")
	}
	if !contains(Algorithms, c.Algorithm) {
		bad("ALGORITHM", "%q is not supported; use one of %s", c.Algorithm, strings.Join(Algorithms, ", "))
	}
	if IsHMAC(c.Algorithm) && c.VerifyingKey != "" {
		bad("VERIFYING_KEY", "is for asymmetric algorithms; %s verifies with SIGNING_KEY", c.Algorithm)
	}
	c.validateStoredKeys(bad)
	for _, a := range c.Audience {
		if strings.TrimSpace(a) == "" {
			bad("AUDIENCE", "has an empty entry")
		}
	}
	if c.Leeway < 0 {
		bad("LEEWAY", "must not be negative")
	}
	if len(c.AuthHeaderTypes) == 0 {
		bad("AUTH_HEADER_TYPES", "must name at least one scheme (e.g. Bearer)")
	}
	for _, t := range c.AuthHeaderTypes {
		if !isToken(t) {
			bad("AUTH_HEADER_TYPES", "%q is not a valid scheme name", t)
		}
	}
	if !isToken(c.AuthHeaderName) {
		bad("AUTH_HEADER_NAME", "%q is not a valid header name", c.AuthHeaderName)
	}
	if c.UserIDField != "id" {
		bad("USER_ID_FIELD", "%q is not supported; Tollgate users are identified by id", c.UserIDField)
	}
	switch {
	case c.UserIDClaim == "":
		bad("USER_ID_CLAIM", "must not be empty")
	case reservedClaims[c.UserIDClaim]:
		bad("USER_ID_CLAIM", "%q is a registered claim Tollgate sets itself; choose another name", c.UserIDClaim)
	}

	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		bad("ADDR", "%q is not host:port (e.g. 127.0.0.1:8000 or :8000)", c.Addr)
	}
	if _, err := c.Database(); err != nil {
		errs = append(errs, err)
	}
	if c.RedisURL != "" {
		u, err := url.Parse(c.RedisURL.Value())
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			bad("REDIS_URL", "must be redis://host:port/db or rediss://...")
		}
	}
	if !strings.HasPrefix(c.Prefix, "/") || !strings.HasSuffix(c.Prefix, "/") {
		bad("PREFIX", "%q must start and end with / (e.g. /api/auth/)", c.Prefix)
	}
	if c.LoginField != string(tollgate.LoginByUsername) && c.LoginField != string(tollgate.LoginByEmail) {
		bad("LOGIN_FIELD", "%q must be username or email", c.LoginField)
	}
	if c.SessionMaxLifetime < 0 {
		bad("SESSION_MAX_LIFETIME", "must not be negative (0 is no cap)")
	}
	if c.RefreshGraceWindow > MaxRefreshGraceWindow {
		bad("REFRESH_GRACE_WINDOW", "%s is too long: inside the window a replayed refresh token is forgiven, so keep it at most %s (a few seconds is typical)",
			FormatDuration(c.RefreshGraceWindow), FormatDuration(MaxRefreshGraceWindow))
	}
	if c.RefreshGraceWindow > 0 && !c.RotateRefreshTokens {
		bad("REFRESH_GRACE_WINDOW", "only applies with ROTATE_REFRESH_TOKENS on")
	}
	if c.LoginRate.N <= 0 || c.LoginRate.Per <= 0 {
		bad("LOGIN_RATE", "must be N/period with N > 0, e.g. 5/min")
	}
	if c.RefreshRate.N <= 0 || c.RefreshRate.Per <= 0 {
		bad("REFRESH_RATE", "must be N/period with N > 0, e.g. 60/min")
	}
	if c.LoginFailureLimit < 0 {
		bad("LOGIN_FAILURE_LIMIT", "must not be negative (0 is off)")
	}
	if c.LoginFailureLimit > 0 {
		if c.LoginFailureWindow <= 0 {
			bad("LOGIN_FAILURE_WINDOW", "must be positive while LOGIN_FAILURE_LIMIT is on")
		}
		if c.LockoutDuration <= 0 {
			bad("LOCKOUT_DURATION", "must be positive while LOGIN_FAILURE_LIMIT is on")
		}
	}
	switch {
	case (c.TLSCertFile == "") != (c.TLSKeyFile == ""):
		bad("TLS_CERT_FILE", "TLS_CERT_FILE and TLS_KEY_FILE must be set together")
	case c.TLSCertFile != "":
		for name, path := range map[string]string{"TLS_CERT_FILE": c.TLSCertFile, "TLS_KEY_FILE": c.TLSKeyFile} {
			if _, err := os.Stat(path); err != nil {
				bad(name, "%v", err)
			}
		}
	}
	if c.HSTS < 0 {
		bad("HSTS", "must not be negative (0 sends no header)")
	}
	if c.FlushInterval < 0 {
		bad("FLUSH_INTERVAL", "must not be negative (0 is off)")
	}
	if err := c.PasswordParams().Validate(); err != nil {
		bad("PASSWORD_ARGON2_MEMORY", "%v", err)
	} else if !c.Dev && (c.Argon2Memory < minArgon2Memory || uint64(c.Argon2Memory)*uint64(c.Argon2Time) < minArgon2Work) {
		bad("PASSWORD_ARGON2_MEMORY", "m=%d KiB, t=%d is below OWASP's minimum (m=19456, t=2; or m=7168, t=5); weaker hashes are allowed only with DEV",
			c.Argon2Memory, c.Argon2Time)
	}
	return errors.Join(errs...)
}

// OWASP's argon2id floor: its five equivalent settings run from m=7 MiB,
// t=5 to m=46 MiB, t=1, i.e. at least 7 MiB and about 35 MiB-passes.
const (
	minArgon2Memory = 7 * 1024
	minArgon2Work   = 7 * 1024 * 5
)

// PasswordParams returns the argon2id parameters of new password hashes.
func (c *Config) PasswordParams() password.Params {
	p := password.DefaultParams()
	p.Memory, p.Time = c.Argon2Memory, c.Argon2Time
	return p
}

// reservedClaims are claims the token package sets itself.
var reservedClaims = map[string]bool{
	token.ClaimTokenType: true, token.ClaimJTI: true, token.ClaimExp: true, token.ClaimIat: true,
	token.ClaimIss: true, token.ClaimAud: true, token.ClaimSessionID: true, "nbf": true, "sub": true,
}

// Database says which store to open.
type Database struct {
	// Driver is "sqlite" or "postgres".
	Driver string
	// DSN is the SQLite file path, or the PostgreSQL URL.
	DSN string
}

// String redacts a PostgreSQL password.
func (d Database) String() string { return d.Driver + ":" + redactURL(d.DSN) }

// Database interprets DATABASE_URL: "" is DefaultSQLiteFile,
// "sqlite://PATH" (so sqlite:///abs/path.db is absolute) or a bare path is
// SQLite, "postgres://" or "postgresql://" is PostgreSQL.
func (c *Config) Database() (Database, error) {
	raw := strings.TrimSpace(c.DatabaseURL.Value())
	switch {
	case raw == "":
		return Database{Driver: "sqlite", DSN: DefaultSQLiteFile}, nil
	case strings.HasPrefix(raw, "sqlite://"):
		p := strings.TrimPrefix(raw, "sqlite://")
		if p == "" {
			return Database{}, fmt.Errorf("%sDATABASE_URL: sqlite:// needs a file path, e.g. sqlite:///var/lib/tollgate/tollgate.db", EnvPrefix)
		}
		return Database{Driver: "sqlite", DSN: p}, nil
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return Database{}, fmt.Errorf("%sDATABASE_URL: not a valid postgres:// URL (postgres://user:password@host:5432/db)", EnvPrefix)
		}
		return Database{Driver: "postgres", DSN: raw}, nil
	case strings.Contains(raw, "://"):
		scheme, _, _ := strings.Cut(raw, "://")
		return Database{}, fmt.Errorf("%sDATABASE_URL: scheme %q is not supported; use sqlite:///path, a file path, or postgres://", EnvPrefix, scheme)
	}
	return Database{Driver: "sqlite", DSN: raw}, nil
}

// Core returns the settings of the core service. Events, clock and random
// source are left for the caller to wire.
func (c *Config) Core() tollgate.Config {
	return tollgate.Config{
		AccessTokenLifetime:  c.AccessTokenLifetime,
		RefreshTokenLifetime: c.RefreshTokenLifetime,
		SessionMaxLifetime:   c.SessionMaxLifetime,
		RotateRefreshTokens:  c.RotateRefreshTokens,
		RefreshGraceWindow:   c.RefreshGraceWindow,
		LoginField:           tollgate.LoginField(c.LoginField),
		UpdateLastLogin:      c.UpdateLastLogin,
		KeepPasswordHashes:   c.KeepPasswordHashes,
		LoginFailureLimit:    c.LoginFailureLimit,
		LoginFailureWindow:   c.LoginFailureWindow,
		LockoutDuration:      c.LockoutDuration,
	}
}

// Token returns the token codec's settings over the given key set.
func (c *Config) Token(keys token.KeySet) token.Config {
	return token.Config{
		Keys:        keys,
		UserIDClaim: c.UserIDClaim,
		Issuer:      c.Issuer,
		Audience:    c.Audience,
		Leeway:      c.Leeway,
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// isToken reports whether s is an HTTP token (RFC 9110): a valid header
// name or auth scheme.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r > 127 || r <= ' ' || strings.ContainsRune("\"(),/:;<=>?@[\\]{}", r) {
			return false
		}
	}
	return true
}
