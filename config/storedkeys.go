package config

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// KEKSize is the length of a key-encryption key: AES-256.
const KEKSize = 32

// Bounds of the stored-key timings. JWKS_MAX_AGE is how long a verifier may
// keep a copy of the key set, so it is also how long a revoked key can
// linger in caches elsewhere: keep it to minutes.
const (
	MaxJWKSMaxAge        = 24 * time.Hour
	MinKeyReloadInterval = 100 * time.Millisecond
)

// errKEKFormat says what a key-encryption key must look like.
var errKEKFormat = fmt.Errorf("must be %d random bytes written as %d hex digits or in base64 (generate one with: openssl rand -hex 32)", KEKSize, 2*KEKSize)

// ParseKEK decodes a key-encryption key: 64 hex digits (64 characters that
// are all hex digits are read as hex), or base64 (standard
// or URL alphabet, padded or not) of 32 bytes. Surrounding whitespace is
// ignored, so a file written by `openssl rand -hex 32 > kek` reads back.
func ParseKEK(text string) ([]byte, error) {
	s := strings.TrimSpace(text)
	if s == "" {
		return nil, errors.New("is empty")
	}
	if len(s) == 2*KEKSize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.Strict().DecodeString(s); err == nil {
			if len(b) != KEKSize {
				return nil, fmt.Errorf("decodes to %d bytes; it %w", len(b), errKEKFormat)
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("is neither hex nor base64; it %w", errKEKFormat)
}

// KEK returns the configured key-encryption key, or nil when none is set.
func (c *Config) KEK() ([]byte, error) {
	if c.KeyEncryptionKey == "" {
		return nil, nil
	}
	k, err := ParseKEK(c.KeyEncryptionKey.Value())
	if err != nil {
		return nil, fmt.Errorf("%sKEY_ENCRYPTION_KEY: %w", EnvPrefix, err)
	}
	return k, nil
}

// StoredKeys reports whether tokens are signed with keys kept in the
// database (generated, rotated, shared by every instance) rather than a
// key from SIGNING_KEY: an asymmetric ALGORITHM with no SIGNING_KEY.
func (c *Config) StoredKeys() bool {
	return !IsHMAC(c.Algorithm) && c.SigningKey == ""
}

// KeyVerifyFor is how long a stored key keeps verifying after a newer one
// starts signing: the longest a token it signed can live, the refresh
// lifetime, plus the leeway a verifier grants past exp.
func (c *Config) KeyVerifyFor() time.Duration {
	return c.RefreshTokenLifetime + c.Leeway
}

// KeyPublishFor is how long a new stored key is published in JWKS before it
// signs: twice JWKS_MAX_AGE, so every cached copy holds it first.
func (c *Config) KeyPublishFor() time.Duration { return 2 * c.JWKSMaxAge }

// validateStoredKeys checks the stored-key settings; bad reports a problem.
func (c *Config) validateStoredKeys(bad func(name, format string, args ...any)) {
	if c.JWKSMaxAge <= 0 {
		bad("JWKS_MAX_AGE", "must be positive")
	} else if c.JWKSMaxAge > MaxJWKSMaxAge {
		bad("JWKS_MAX_AGE", "%s is too long: a revoked key stays in verifiers' caches this long; keep it to minutes", FormatDuration(c.JWKSMaxAge))
	}
	if c.KeyReloadInterval < MinKeyReloadInterval {
		bad("KEY_RELOAD_INTERVAL", "must be at least %s", FormatDuration(MinKeyReloadInterval))
	}
	if c.KeyEncryptionKey != "" {
		if _, err := ParseKEK(c.KeyEncryptionKey.Value()); err != nil {
			bad("KEY_ENCRYPTION_KEY", "%v", err)
		}
	}
	stored := c.StoredKeys()
	why := "HMAC algorithms sign with SIGNING_KEY"
	if !IsHMAC(c.Algorithm) {
		why = "SIGNING_KEY is set, so tokens are signed with it"
	}
	if c.KeyRotationInterval > 0 {
		switch {
		case !stored:
			bad("KEY_ROTATION_INTERVAL", "applies to keys stored in the database (an asymmetric ALGORITHM without SIGNING_KEY); %s", why)
		case c.KeyRotationInterval <= c.KeyPublishFor():
			bad("KEY_ROTATION_INTERVAL", "%s must be longer than twice JWKS_MAX_AGE (%s), the time a new key is published before it signs",
				FormatDuration(c.KeyRotationInterval), FormatDuration(c.KeyPublishFor()))
		}
	}
	if c.KeyEncryptionKey != "" && !stored {
		bad("KEY_ENCRYPTION_KEY", "encrypts keys stored in the database (an asymmetric ALGORITHM without SIGNING_KEY); %s", why)
	}
}
