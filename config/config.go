// Package config is Tollgate's one configuration struct: defaults, loading
// from TOLLGATE_* environment variables and an optional TOML file (the
// environment wins), and validation at start-up with messages that name the
// setting. It is the only package that reads the environment, and it does so
// through a lookup function so tests never touch the real one.
//
// Setting names follow SimpleJWT's where one exists (ACCESS_TOKEN_LIFETIME,
// ROTATE_REFRESH_TOKENS, SIGNING_KEY, ...), so a Django team can carry its
// settings over.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// EnvPrefix prefixes every environment variable Tollgate reads.
const EnvPrefix = "TOLLGATE_"

// EnvConfigFile names the environment variable that points at a TOML file.
const EnvConfigFile = EnvPrefix + "CONFIG"

// DefaultSQLiteFile is the database used when DATABASE_URL is not set: a
// file in the working directory, created on first start.
const DefaultSQLiteFile = "tollgate.db"

// Secret is a string that never prints: String, GoString and slog show
// "[redacted]", so a Config can be logged or formatted with %v safely.
// Value returns the real content.
type Secret string

// Value returns the secret itself; call it only where the secret is used.
func (s Secret) Value() string { return string(s) }

// String redacts the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString redacts the secret under %#v too.
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// LogValue redacts the secret in slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Config is every setting of the tollgate server. Build one with Load (or
// Default for tests), then call Validate.
type Config struct {
	// Tokens (SimpleJWT names).
	AccessTokenLifetime    time.Duration
	RefreshTokenLifetime   time.Duration
	RotateRefreshTokens    bool
	BlacklistAfterRotation bool
	Algorithm              string
	// SigningKey is the HMAC secret (HS*) or the PEM private key (RS*,
	// PS*, ES*, EdDSA). Load fills it from SigningKeyFile when that is set.
	SigningKey     Secret
	SigningKeyFile string
	// VerifyingKey is the PEM public key of an asymmetric SigningKey; when
	// empty it is derived from the private key.
	VerifyingKey string
	// KeyEncryptionKey (KEK) seals the private keys stored in the database
	// (asymmetric ALGORITHM without SIGNING_KEY): 32 bytes, hex or base64.
	// Load fills it from KeyEncryptionKeyFile when that is set.
	KeyEncryptionKey     Secret
	KeyEncryptionKeyFile string
	// KeyRotationInterval is how old the newest stored key may get before
	// serve rotates by itself; 0 rotates only on `tollgate keys rotate`.
	KeyRotationInterval time.Duration
	// KeyReloadInterval is how often serve rereads the stored keys, picking
	// up rotations and revocations made by the CLI or other instances.
	KeyReloadInterval time.Duration
	// JWKSMaxAge is the Cache-Control max-age of the JWKS document; a new
	// stored key is published for twice this before it signs.
	JWKSMaxAge      time.Duration
	Audience        []string
	Issuer          string
	Leeway          time.Duration
	AuthHeaderTypes []string
	AuthHeaderName  string
	UserIDField     string
	UserIDClaim     string
	UpdateLastLogin bool
	// KeepPasswordHashes leaves imported (Django) hashes as they are instead
	// of upgrading them to argon2id on the next login.
	KeepPasswordHashes bool

	// Tollgate's own.
	Addr string
	// DatabaseURL is "sqlite:///path", a bare path (SQLite), or
	// "postgres://..."; it may hold a password, hence a Secret.
	DatabaseURL           Secret
	RedisURL              Secret
	Prefix                string
	LoginField            string
	SessionMaxLifetime    time.Duration
	RefreshGraceWindow    time.Duration
	AccessTokenRevocation bool
	LoginRate             Rate
	RefreshRate           Rate
	LoginFailureLimit     int
	LoginFailureWindow    time.Duration
	LockoutDuration       time.Duration
	TrustedProxies        []netip.Prefix
	TLSCertFile           string
	TLSKeyFile            string
	// HSTS is the Strict-Transport-Security max-age sent when Tollgate
	// serves TLS itself; 0 sends none.
	HSTS time.Duration
	// FlushInterval is how often serve deletes expired sessions; 0 is off.
	FlushInterval time.Duration
	LogLevel      slog.Level
	// Argon2Memory (KiB) and Argon2Time are the argon2id cost of new
	// password hashes; OWASP's m=19 MiB, t=2 by default.
	Argon2Memory uint32
	Argon2Time   uint32
	// Dev relaxes what only matters in production: a missing signing key
	// is generated and kept in a file next to the database.
	Dev bool

	// File is the TOML file the settings were read from, if any.
	File string
}

// Default returns the production defaults.
func Default() *Config {
	return &Config{
		AccessTokenLifetime:    15 * time.Minute,
		RefreshTokenLifetime:   7 * 24 * time.Hour,
		RotateRefreshTokens:    true,
		BlacklistAfterRotation: true,
		Algorithm:              "HS256",
		KeyReloadInterval:      time.Minute,
		JWKSMaxAge:             10 * time.Minute,
		AuthHeaderTypes:        []string{"Bearer"},
		AuthHeaderName:         "Authorization",
		UserIDField:            "id",
		UserIDClaim:            "user_id",
		UpdateLastLogin:        true,
		Addr:                   "127.0.0.1:8000",
		Prefix:                 "/api/auth/",
		LoginField:             "username",
		SessionMaxLifetime:     30 * 24 * time.Hour,
		LoginRate:              Rate{N: 5, Per: time.Minute},
		RefreshRate:            Rate{N: 60, Per: time.Minute},
		LoginFailureLimit:      10,
		LoginFailureWindow:     15 * time.Minute,
		LockoutDuration:        15 * time.Minute,
		HSTS:                   365 * 24 * time.Hour,
		FlushInterval:          time.Hour,
		LogLevel:               slog.LevelInfo,
		Argon2Memory:           19456,
		Argon2Time:             2,
	}
}

// setting is one configurable value: its name without the TOLLGATE_
// prefix, what it means, how to set it from text and how to show it.
type setting struct {
	name   string
	help   string
	secret bool
	set    func(c *Config, v string) error
	get    func(c *Config) string
}

func durationSetting(name, help string, f func(*Config) *time.Duration) setting {
	return setting{name: name, help: help,
		set: func(c *Config, v string) error {
			d, err := ParseDuration(v)
			if err != nil {
				return err
			}
			*f(c) = d
			return nil
		},
		get: func(c *Config) string { return FormatDuration(*f(c)) },
	}
}

func boolSetting(name, help string, f func(*Config) *bool) setting {
	return setting{name: name, help: help,
		set: func(c *Config, v string) error {
			b, err := parseBool(v)
			if err != nil {
				return err
			}
			*f(c) = b
			return nil
		},
		get: func(c *Config) string { return fmt.Sprint(*f(c)) },
	}
}

func stringSetting(name, help string, f func(*Config) *string) setting {
	return setting{name: name, help: help,
		set: func(c *Config, v string) error { *f(c) = strings.TrimSpace(v); return nil },
		get: func(c *Config) string { return *f(c) },
	}
}

func listSetting(name, help string, f func(*Config) *[]string) setting {
	return setting{name: name, help: help,
		set: func(c *Config, v string) error { *f(c) = parseList(v); return nil },
		get: func(c *Config) string { return strings.Join(*f(c), ",") },
	}
}

func uintSetting(name, help string, f func(*Config) *uint32) setting {
	return setting{name: name, help: help,
		set: func(c *Config, v string) error {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
			if err != nil {
				return fmt.Errorf("%q is not a non-negative integer", v)
			}
			*f(c) = uint32(n)
			return nil
		},
		get: func(c *Config) string { return strconv.FormatUint(uint64(*f(c)), 10) },
	}
}

func rateSetting(name, help string, f func(*Config) *Rate) setting {
	return setting{name: name, help: help,
		set: func(c *Config, v string) error {
			r, err := ParseRate(v)
			if err != nil {
				return err
			}
			*f(c) = r
			return nil
		},
		get: func(c *Config) string { return f(c).String() },
	}
}

func urlSetting(name, help string, f func(*Config) *Secret) setting {
	return setting{name: name, help: help,
		set: func(c *Config, v string) error { *f(c) = Secret(strings.TrimSpace(v)); return nil },
		get: func(c *Config) string { return redactURL(f(c).Value()) },
	}
}

// settings lists every setting, in the order the docs show them.
var settings = []setting{
	durationSetting("ACCESS_TOKEN_LIFETIME", "How long an access token is valid.", func(c *Config) *time.Duration { return &c.AccessTokenLifetime }),
	durationSetting("REFRESH_TOKEN_LIFETIME", "How long a refresh token is valid (each rotation issues a fresh one).", func(c *Config) *time.Duration { return &c.RefreshTokenLifetime }),
	boolSetting("ROTATE_REFRESH_TOKENS", "Every refresh returns a new refresh token and retires the presented one.", func(c *Config) *bool { return &c.RotateRefreshTokens }),
	boolSetting("BLACKLIST_AFTER_ROTATION", "A rotated refresh token is refused, and presenting it revokes its session (theft detection). Must be on when rotation is.", func(c *Config) *bool { return &c.BlacklistAfterRotation }),
	stringSetting("ALGORITHM", "Signing algorithm: HS256/384/512, RS256/384/512, PS256, ES256/384, EdDSA.", func(c *Config) *string { return &c.Algorithm }),
	{name: "SIGNING_KEY", secret: true, help: "HMAC secret (at least 32 bytes) or PEM private key. Prefer SIGNING_KEY_FILE.",
		set: func(c *Config, v string) error { c.SigningKey = Secret(v); return nil },
		get: func(c *Config) string { return c.SigningKey.String() }},
	stringSetting("SIGNING_KEY_FILE", "File holding SIGNING_KEY (trailing newline ignored).", func(c *Config) *string { return &c.SigningKeyFile }),
	stringSetting("VERIFYING_KEY", "PEM public key for asymmetric algorithms; derived from SIGNING_KEY when empty.", func(c *Config) *string { return &c.VerifyingKey }),
	{name: "KEY_ENCRYPTION_KEY", secret: true, help: "Key-encryption key sealing the signing keys stored in the database (AES-256-GCM): 32 random bytes, as 64 hex digits or base64 (openssl rand -hex 32). Prefer KEY_ENCRYPTION_KEY_FILE.",
		set: func(c *Config, v string) error { c.KeyEncryptionKey = Secret(strings.TrimSpace(v)); return nil },
		get: func(c *Config) string { return c.KeyEncryptionKey.String() }},
	stringSetting("KEY_ENCRYPTION_KEY_FILE", "File holding KEY_ENCRYPTION_KEY.", func(c *Config) *string { return &c.KeyEncryptionKeyFile }),
	durationSetting("KEY_ROTATION_INTERVAL", "Stored keys: serve rotates once the newest key is this old; 0 rotates only on tollgate keys rotate.", func(c *Config) *time.Duration { return &c.KeyRotationInterval }),
	durationSetting("KEY_RELOAD_INTERVAL", "Stored keys: how often serve rereads them, picking up rotations and revocations made elsewhere.", func(c *Config) *time.Duration { return &c.KeyReloadInterval }),
	durationSetting("JWKS_MAX_AGE", "Cache-Control max-age of /.well-known/jwks.json; a new stored key is published for twice this before it signs.", func(c *Config) *time.Duration { return &c.JWKSMaxAge }),
	listSetting("AUDIENCE", "aud claim put in tokens and required of them (comma-separated).", func(c *Config) *[]string { return &c.Audience }),
	stringSetting("ISSUER", "iss claim put in tokens and required of them.", func(c *Config) *string { return &c.Issuer }),
	durationSetting("LEEWAY", "Clock skew allowed when checking exp.", func(c *Config) *time.Duration { return &c.Leeway }),
	listSetting("AUTH_HEADER_TYPES", "Accepted schemes of the auth header (comma-separated).", func(c *Config) *[]string { return &c.AuthHeaderTypes }),
	{name: "AUTH_HEADER_NAME", help: "Header carrying the access token (Django's HTTP_AUTHORIZATION spelling is accepted).",
		set: func(c *Config, v string) error { c.AuthHeaderName = headerName(v); return nil },
		get: func(c *Config) string { return c.AuthHeaderName }},
	stringSetting("USER_ID_FIELD", "User field put in the user id claim (only id is supported).", func(c *Config) *string { return &c.UserIDField }),
	stringSetting("USER_ID_CLAIM", "Name of the user id claim.", func(c *Config) *string { return &c.UserIDClaim }),
	boolSetting("UPDATE_LAST_LOGIN", "Record the time of each login on the user.", func(c *Config) *bool { return &c.UpdateLastLogin }),
	boolSetting("KEEP_PASSWORD_HASHES", "Keep imported Django hashes (pbkdf2_sha256, bcrypt_sha256, ...) instead of upgrading them to argon2id at the next login: for a user table shared with a Django service during a migration.", func(c *Config) *bool { return &c.KeepPasswordHashes }),
	stringSetting("ADDR", "Address the server listens on.", func(c *Config) *string { return &c.Addr }),
	{name: "DATABASE_URL", help: "sqlite:///path/to/file.db, a bare file path (SQLite), or postgres://user:pass@host/db. Default: " + DefaultSQLiteFile + " in the working directory.",
		set: func(c *Config, v string) error { c.DatabaseURL = Secret(strings.TrimSpace(v)); return nil },
		get: func(c *Config) string {
			if c.DatabaseURL == "" {
				return DefaultSQLiteFile
			}
			return redactURL(c.DatabaseURL.Value())
		}},
	urlSetting("REDIS_URL", "redis://host:port/db for rate limits shared by all instances and, with ACCESS_TOKEN_REVOCATION, revocations fanned out to them within a second; empty keeps limits in memory.", func(c *Config) *Secret { return &c.RedisURL }),
	stringSetting("PREFIX", "URL prefix of the auth API.", func(c *Config) *string { return &c.Prefix }),
	stringSetting("LOGIN_FIELD", "User field the login name is matched against: username or email.", func(c *Config) *string { return &c.LoginField }),
	durationSetting("SESSION_MAX_LIFETIME", "Cap on how long rotation can keep one login alive; 0 is no cap.", func(c *Config) *time.Duration { return &c.SessionMaxLifetime }),
	durationSetting("REFRESH_GRACE_WINDOW", "A replay of the just-rotated refresh token within this window gets the same successor instead of revoking the session (at most 1m); 0 is off.", func(c *Config) *time.Duration { return &c.RefreshGraceWindow }),
	boolSetting("ACCESS_TOKEN_REVOCATION", "The middleware refuses access tokens of revoked sessions before they expire (one store lookup per request).", func(c *Config) *bool { return &c.AccessTokenRevocation }),
	rateSetting("LOGIN_RATE", "Token-obtain requests allowed per client IP.", func(c *Config) *Rate { return &c.LoginRate }),
	rateSetting("REFRESH_RATE", "Refresh requests allowed per client IP.", func(c *Config) *Rate { return &c.RefreshRate }),
	{name: "LOGIN_FAILURE_LIMIT", help: "Failed logins of one login name before it is locked; 0 is off.",
		set: func(c *Config, v string) error {
			var n int
			if _, err := fmt.Sscan(strings.TrimSpace(v), &n); err != nil || fmt.Sprint(n) != strings.TrimSpace(v) {
				return fmt.Errorf("%q is not an integer", v)
			}
			c.LoginFailureLimit = n
			return nil
		},
		get: func(c *Config) string { return fmt.Sprint(c.LoginFailureLimit) }},
	durationSetting("LOGIN_FAILURE_WINDOW", "Window in which failed logins are counted.", func(c *Config) *time.Duration { return &c.LoginFailureWindow }),
	durationSetting("LOCKOUT_DURATION", "How long a login name stays locked.", func(c *Config) *time.Duration { return &c.LockoutDuration }),
	{name: "TRUSTED_PROXIES", help: "CIDRs of reverse proxies whose X-Forwarded-For is believed (comma-separated); empty trusts none.",
		set: func(c *Config, v string) error {
			p, err := parsePrefixes(v)
			if err != nil {
				return err
			}
			c.TrustedProxies = p
			return nil
		},
		get: func(c *Config) string {
			s := make([]string, len(c.TrustedProxies))
			for i, p := range c.TrustedProxies {
				s[i] = p.String()
			}
			return strings.Join(s, ",")
		}},
	stringSetting("TLS_CERT_FILE", "PEM certificate (chain): serve HTTPS directly. Needs TLS_KEY_FILE.", func(c *Config) *string { return &c.TLSCertFile }),
	stringSetting("TLS_KEY_FILE", "PEM private key of TLS_CERT_FILE.", func(c *Config) *string { return &c.TLSKeyFile }),
	durationSetting("HSTS", "Strict-Transport-Security max-age sent when serving TLS; 0 sends none.", func(c *Config) *time.Duration { return &c.HSTS }),
	durationSetting("FLUSH_INTERVAL", "How often serve deletes expired sessions; 0 is off (run tollgate tokens flush from cron).", func(c *Config) *time.Duration { return &c.FlushInterval }),
	{name: "LOG_LEVEL", help: "debug, info, warn or error.",
		set: func(c *Config, v string) error {
			var l slog.Level
			if err := l.UnmarshalText([]byte(strings.TrimSpace(v))); err != nil {
				return fmt.Errorf("%q is not a log level (debug, info, warn, error)", v)
			}
			c.LogLevel = l
			return nil
		},
		get: func(c *Config) string { return strings.ToLower(c.LogLevel.String()) }},
	uintSetting("PASSWORD_ARGON2_MEMORY", "argon2id memory of new password hashes, in KiB (OWASP: 19456 with time 2). Weaker than OWASP's minimum only with DEV.", func(c *Config) *uint32 { return &c.Argon2Memory }),
	uintSetting("PASSWORD_ARGON2_TIME", "argon2id passes of new password hashes.", func(c *Config) *uint32 { return &c.Argon2Time }),
	boolSetting("DEV", "Development mode: a missing signing key is generated once and kept next to the SQLite file. Never in production.", func(c *Config) *bool { return &c.Dev }),
}

// Setting describes one setting for documentation and `tollgate config`.
type Setting struct {
	Env     string // the environment variable, e.g. TOLLGATE_ACCESS_TOKEN_LIFETIME
	Default string
	Help    string
}

// Settings lists every setting with its default, in documentation order.
func Settings() []Setting {
	def := Default()
	out := make([]Setting, len(settings))
	for i, s := range settings {
		out[i] = Setting{Env: EnvPrefix + s.name, Default: s.get(def), Help: s.help}
	}
	return out
}

// Load builds a Config from the defaults, then the TOML file (file, or the
// one TOLLGATE_CONFIG names when file is ""), then the TOLLGATE_*
// variables that lookup finds (pass os.LookupEnv). It reads the signing
// key file. It does not validate; call Validate.
func Load(lookup func(string) (string, bool), file string) (*Config, error) {
	c := Default()
	if file == "" {
		if v, ok := lookup(EnvConfigFile); ok {
			file = strings.TrimSpace(v)
		}
	}
	var errs []error
	if file != "" {
		c.File = file
		if err := c.loadFile(file); err != nil {
			return nil, err
		}
	}
	for _, s := range settings {
		v, ok := lookup(EnvPrefix + s.name)
		if !ok {
			continue
		}
		if err := s.set(c, v); err != nil {
			errs = append(errs, fmt.Errorf("%s%s: %w", EnvPrefix, s.name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if c.SigningKeyFile != "" {
		if c.SigningKey != "" {
			return nil, fmt.Errorf("%sSIGNING_KEY and %sSIGNING_KEY_FILE are both set: keep one", EnvPrefix, EnvPrefix)
		}
		b, err := os.ReadFile(c.SigningKeyFile)
		if err != nil {
			return nil, fmt.Errorf("%sSIGNING_KEY_FILE: %w", EnvPrefix, err)
		}
		c.SigningKey = Secret(strings.TrimRight(string(b), "\r\n"))
	}
	if c.KeyEncryptionKeyFile != "" {
		if c.KeyEncryptionKey != "" {
			return nil, fmt.Errorf("%sKEY_ENCRYPTION_KEY and %sKEY_ENCRYPTION_KEY_FILE are both set: keep one", EnvPrefix, EnvPrefix)
		}
		b, err := os.ReadFile(c.KeyEncryptionKeyFile)
		if err != nil {
			return nil, fmt.Errorf("%sKEY_ENCRYPTION_KEY_FILE: %w", EnvPrefix, err)
		}
		c.KeyEncryptionKey = Secret(strings.TrimSpace(string(b)))
	}
	return c, nil
}

// loadFile applies a TOML file whose keys are setting names in any case,
// with or without the TOLLGATE_ prefix (access_token_lifetime = "15m").
// Unknown keys are refused: a typo must not silently keep a default.
func (c *Config) loadFile(path string) error {
	var raw map[string]any
	if _, err := toml.DecodeFile(path, &raw); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	byName := make(map[string]setting, len(settings))
	for _, s := range settings {
		byName[s.name] = s
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		name := strings.TrimPrefix(strings.ToUpper(k), EnvPrefix)
		s, ok := byName[name]
		if !ok {
			errs = append(errs, fmt.Errorf("config file %s: unknown setting %q", path, k))
			continue
		}
		v, err := tomlText(raw[k])
		if err == nil {
			err = s.set(c, v)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("config file %s: %s: %w", path, k, err))
		}
	}
	return errors.Join(errs...)
}

// tomlText turns a TOML value into the text an environment variable would
// hold, so both sources share one parser per setting.
func tomlText(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool, int64, float64:
		return fmt.Sprint(x), nil
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			s, err := tomlText(e)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	}
	return "", fmt.Errorf("unsupported value %v (%T)", v, v)
}

// String lists every setting as NAME=value, one a line, with secrets
// redacted: safe to log or print.
func (c *Config) String() string {
	var b strings.Builder
	for _, s := range settings {
		fmt.Fprintf(&b, "%s%s=%s\n", EnvPrefix, s.name, s.get(c))
	}
	return b.String()
}

// LogValue makes slog print the redacted form.
func (c *Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// redactURL hides the password of a URL; text that is not a URL with
// user info is returned unchanged.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}

// headerName turns Django's META spelling (HTTP_X_API_TOKEN) into the
// header name (X-Api-Token), and leaves a header name as it is.
func headerName(v string) string {
	v = strings.TrimSpace(v)
	rest, ok := strings.CutPrefix(v, "HTTP_")
	if !ok {
		return v
	}
	parts := strings.Split(strings.ToLower(rest), "_")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, "-")
}
