package config

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseKEK_AcceptsHexAndBase64Of32Bytes(t *testing.T) {
	key := bytes.Repeat([]byte{0xfb, 0x01, 0x7e, 0xff}, 8) // encodes with + and / in std base64
	for name, text := range map[string]string{
		"hex":               hex.EncodeToString(key),
		"hex upper, spaces": "  " + strings.ToUpper(hex.EncodeToString(key)) + "\n",
		"base64 std":        base64.StdEncoding.EncodeToString(key),
		"base64 raw std":    base64.RawStdEncoding.EncodeToString(key),
		"base64 url":        base64.URLEncoding.EncodeToString(key),
		"base64 raw url":    base64.RawURLEncoding.EncodeToString(key),
	} {
		got, err := ParseKEK(text)
		if err != nil || !bytes.Equal(got, key) {
			t.Errorf("%s: ParseKEK(%q) = %x, %v; want %x", name, text, got, err, key)
		}
	}
}

func TestParseKEK_RefusesWrongSizesAndEncodings(t *testing.T) {
	for name, text := range map[string]string{
		"empty":             "",
		"31 bytes hex":      strings.Repeat("ab", 31),
		"33 bytes hex":      strings.Repeat("ab", 33),
		"16 bytes base64":   base64.StdEncoding.EncodeToString(make([]byte, 16)),
		"48 bytes base64":   base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, 48)),
		"passphrase":        "correct horse battery staple!!",
		"64 chars, not hex": strings.Repeat("zz", 32) + "!",
	} {
		if k, err := ParseKEK(text); err == nil {
			t.Errorf("%s: ParseKEK accepted %q as %x", name, text, k)
		} else if name != "empty" && !strings.Contains(err.Error(), "32 random bytes") {
			t.Errorf("%s: error %q does not say what a KEK must be", name, err)
		}
	}
}

func TestLoad_KeyEncryptionKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kek")
	kek := strings.Repeat("0f", 32)
	writeFile(t, path, kek+"\n")
	c, err := Load(env("TOLLGATE_KEY_ENCRYPTION_KEY_FILE", path), "")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.KEK(); err != nil || hex.EncodeToString(got) != kek {
		t.Errorf("KEK() = %x, %v; want %s", got, err, kek)
	}
	if strings.Contains(c.String(), kek) {
		t.Error("String() shows the key-encryption key")
	}
	_, err = Load(env("TOLLGATE_KEY_ENCRYPTION_KEY_FILE", path, "TOLLGATE_KEY_ENCRYPTION_KEY", kek), "")
	if err == nil || !strings.Contains(err.Error(), "both set") {
		t.Errorf("KEY_ENCRYPTION_KEY and its file both set: %v; want an error", err)
	}
	_, err = Load(env("TOLLGATE_KEY_ENCRYPTION_KEY_FILE", filepath.Join(dir, "missing")), "")
	if err == nil || !strings.Contains(err.Error(), "TOLLGATE_KEY_ENCRYPTION_KEY_FILE") {
		t.Errorf("missing KEK file: %v; want an error naming the setting", err)
	}
}

func TestStoredKeys_OnlyForAsymmetricWithoutSigningKey(t *testing.T) {
	cases := []struct {
		alg, key string
		want     bool
	}{
		{"ES256", "", true},
		{"EdDSA", "", true},
		{"RS256", "", true},
		{"ES256", "-----BEGIN PRIVATE KEY-----...", false},
		{"HS256", "", false},
		{"HS256", goodKey, false},
	}
	for _, tc := range cases {
		c := Default()
		c.Algorithm, c.SigningKey = tc.alg, Secret(tc.key)
		if got := c.StoredKeys(); got != tc.want {
			t.Errorf("StoredKeys() with %s, key %q = %v, want %v", tc.alg, tc.key, got, tc.want)
		}
	}
}

func TestValidate_StoredKeySettingsNameTheirSetting(t *testing.T) {
	kek := strings.Repeat("ab", 32)
	cases := []struct {
		name    string
		edit    func(*Config)
		setting string
	}{
		{"JWKS max-age zero", func(c *Config) { c.Algorithm = "ES256"; c.JWKSMaxAge = 0 }, "JWKS_MAX_AGE"},
		{"JWKS max-age over a day", func(c *Config) { c.Algorithm = "ES256"; c.JWKSMaxAge = 25 * time.Hour }, "JWKS_MAX_AGE"},
		{"reload interval zero", func(c *Config) { c.KeyReloadInterval = 0 }, "KEY_RELOAD_INTERVAL"},
		{"bad KEK", func(c *Config) { c.Algorithm = "ES256"; c.KeyEncryptionKey = "short" }, "KEY_ENCRYPTION_KEY"},
		{"KEK with HMAC", func(c *Config) { c.KeyEncryptionKey = Secret(kek) }, "KEY_ENCRYPTION_KEY"},
		{"KEK with a PEM signing key", func(c *Config) { c.Algorithm = "ES256"; c.SigningKey = "pem"; c.KeyEncryptionKey = Secret(kek) }, "KEY_ENCRYPTION_KEY"},
		{"rotation with HMAC", func(c *Config) { c.KeyRotationInterval = 30 * 24 * time.Hour }, "KEY_ROTATION_INTERVAL"},
		{"rotation faster than publication", func(c *Config) {
			c.Algorithm = "ES256"
			c.JWKSMaxAge = 10 * time.Minute
			c.KeyRotationInterval = 20 * time.Minute
		}, "KEY_ROTATION_INTERVAL"},
	}
	for _, tc := range cases {
		c := Default()
		tc.edit(c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), "TOLLGATE_"+tc.setting+":") {
			t.Errorf("%s: Validate() = %v; want an error naming TOLLGATE_%s", tc.name, err, tc.setting)
		}
	}
	c := Default()
	c.Algorithm = "EdDSA"
	c.KeyEncryptionKey = Secret(kek)
	c.KeyRotationInterval = 30 * 24 * time.Hour
	c.JWKSMaxAge = time.Minute
	if err := c.Validate(); err != nil {
		t.Errorf("stored EdDSA keys, a KEK and monthly rotation: %v", err)
	}
}
