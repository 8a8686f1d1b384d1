package config

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate"
)

// env is a fake environment for Load.
func env(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

const goodKey = "0123456789abcdef0123456789abcdef"

func TestParseDuration_AcceptsGoSyntaxDaysAndSeconds(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
	}{
		{"15m", 15 * time.Minute},
		{"1h30m", 90 * time.Minute},
		{"7d", 7 * 24 * time.Hour},
		{"1d12h", 36 * time.Hour},
		{"300", 5 * time.Minute},
		{"0.5", 500 * time.Millisecond},
		{"0", 0},
		{" 10s ", 10 * time.Second},
	}
	for _, tc := range cases {
		got, err := ParseDuration(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "abc", "-5", "-1m", "7x", "d", "1.5d", "1e400", "NaN", "inf"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) succeeded; want an error", in)
		}
	}
}

func TestFormatDuration_RoundTrips(t *testing.T) {
	for _, d := range []time.Duration{0, time.Second, 15 * time.Minute, 90 * time.Minute, 7 * 24 * time.Hour, 36 * time.Hour} {
		got, err := ParseDuration(FormatDuration(d))
		if err != nil || got != d {
			t.Errorf("round trip of %v via %q = %v, %v", d, FormatDuration(d), got, err)
		}
	}
	if got := FormatDuration(15 * time.Minute); got != "15m" {
		t.Errorf("FormatDuration(15m) = %q", got)
	}
}

func TestParseRate(t *testing.T) {
	cases := []struct {
		in   string
		want Rate
		ok   bool
	}{
		{"5/min", Rate{5, time.Minute}, true},
		{"60/m", Rate{60, time.Minute}, true},
		{"100/hour", Rate{100, time.Hour}, true},
		{"10/s", Rate{10, time.Second}, true},
		{"1000/day", Rate{1000, 24 * time.Hour}, true},
		{"5/15m", Rate{5, 15 * time.Minute}, true},
		{"5", Rate{}, false},
		{"0/min", Rate{}, false},
		{"-1/min", Rate{}, false},
		{"x/min", Rate{}, false},
		{"5/fortnight", Rate{}, false},
		{"5/0", Rate{}, false},
	}
	for _, tc := range cases {
		got, err := ParseRate(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestLoad_DefaultsAreProductionOnes(t *testing.T) {
	c, err := Load(env(), "")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Fatalf("Load with no env = %+v, want Default()", c)
	}
	want := map[string]any{
		"access": 15 * time.Minute, "refresh": 7 * 24 * time.Hour, "rotate": true, "blacklist": true,
		"alg": "HS256", "addr": "127.0.0.1:8000", "prefix": "/api/auth/", "dev": false,
		"loginRate": Rate{5, time.Minute}, "refreshRate": Rate{60, time.Minute},
	}
	got := map[string]any{
		"access": c.AccessTokenLifetime, "refresh": c.RefreshTokenLifetime, "rotate": c.RotateRefreshTokens,
		"blacklist": c.BlacklistAfterRotation, "alg": c.Algorithm, "addr": c.Addr, "prefix": c.Prefix, "dev": c.Dev,
		"loginRate": c.LoginRate, "refreshRate": c.RefreshRate,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults = %v, want %v", got, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
	db, _ := c.Database()
	if db != (Database{Driver: "sqlite", DSN: "tollgate.db"}) {
		t.Errorf("default database = %v", db)
	}
}

func TestLoad_ReadsEachKindOfSettingFromEnv(t *testing.T) {
	c, err := Load(env(
		"TOLLGATE_ACCESS_TOKEN_LIFETIME", "300",
		"TOLLGATE_REFRESH_TOKEN_LIFETIME", "14d",
		"TOLLGATE_ROTATE_REFRESH_TOKENS", "false",
		"TOLLGATE_AUDIENCE", "api, admin",
		"TOLLGATE_AUTH_HEADER_NAME", "HTTP_X_API_TOKEN",
		"TOLLGATE_LOGIN_RATE", "10/hour",
		"TOLLGATE_LOGIN_FAILURE_LIMIT", "3",
		"TOLLGATE_TRUSTED_PROXIES", "10.0.0.0/8,192.168.1.7",
		"TOLLGATE_LOG_LEVEL", "debug",
		"TOLLGATE_DEV", "1",
		"TOLLGATE_SIGNING_KEY", goodKey,
	), "")
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"access", c.AccessTokenLifetime, 5 * time.Minute},
		{"refresh", c.RefreshTokenLifetime, 14 * 24 * time.Hour},
		{"rotate", c.RotateRefreshTokens, false},
		{"audience", c.Audience, []string{"api", "admin"}},
		{"header", c.AuthHeaderName, "X-Api-Token"},
		{"rate", c.LoginRate, Rate{10, time.Hour}},
		{"limit", c.LoginFailureLimit, 3},
		{"proxies", c.TrustedProxies, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32")}},
		{"level", c.LogLevel, slog.LevelDebug},
		{"dev", c.Dev, true},
		{"key", c.SigningKey.Value(), goodKey},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestLoad_BadValueNamesTheVariable(t *testing.T) {
	cases := map[string]string{
		"TOLLGATE_ACCESS_TOKEN_LIFETIME": "soon",
		"TOLLGATE_ROTATE_REFRESH_TOKENS": "maybe",
		"TOLLGATE_LOGIN_RATE":            "lots",
		"TOLLGATE_LOGIN_FAILURE_LIMIT":   "3x",
		"TOLLGATE_TRUSTED_PROXIES":       "10.0.0.0/99",
		"TOLLGATE_LOG_LEVEL":             "chatty",
	}
	for name, val := range cases {
		_, err := Load(env(name, val), "")
		if err == nil || !strings.Contains(err.Error(), name+":") {
			t.Errorf("%s=%q: err = %v, want one naming %s", name, val, err, name)
		}
	}
}

func TestLoad_FileThenEnvOverrides(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tollgate.toml")
	writeFile(t, path, `
access_token_lifetime = "5m"
REFRESH_TOKEN_LIFETIME = 86400
rotate_refresh_tokens = true
tollgate_audience = ["a", "b"]
leeway = 2
prefix = "/auth/"
`)
	c, err := Load(env("TOLLGATE_ACCESS_TOKEN_LIFETIME", "1m"), path)
	if err != nil {
		t.Fatal(err)
	}
	if c.AccessTokenLifetime != time.Minute {
		t.Errorf("env should override file: access = %v", c.AccessTokenLifetime)
	}
	if c.RefreshTokenLifetime != 24*time.Hour || c.Leeway != 2*time.Second || c.Prefix != "/auth/" {
		t.Errorf("file values not applied: %v %v %q", c.RefreshTokenLifetime, c.Leeway, c.Prefix)
	}
	if !reflect.DeepEqual(c.Audience, []string{"a", "b"}) {
		t.Errorf("audience = %v", c.Audience)
	}
	if c.File != path {
		t.Errorf("File = %q", c.File)
	}

	// TOLLGATE_CONFIG names the file when no path is given.
	c, err = Load(env("TOLLGATE_CONFIG", path), "")
	if err != nil || c.AccessTokenLifetime != 5*time.Minute {
		t.Errorf("TOLLGATE_CONFIG not honoured: %v, %v", c, err)
	}
}

func TestLoad_FileRejectsUnknownSettingsAndBadValues(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"unknown setting \"acess_token_lifetime\"": `acess_token_lifetime = "5m"`,
		"leeway":            `leeway = "soon"`,
		"config file":       `this is not toml`,
		"unsupported value": "dev = {a = 1}",
	}
	for want, body := range cases {
		path := filepath.Join(dir, "c.toml")
		writeFile(t, path, body)
		_, err := Load(env(), path)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("file %q: err = %v, want it to mention %q", body, err, want)
		}
	}
	if _, err := Load(env(), filepath.Join(dir, "missing.toml")); err == nil {
		t.Error("a missing config file should fail")
	}
}

func TestLoad_SigningKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key")
	writeFile(t, path, goodKey+"\n")
	c, err := Load(env("TOLLGATE_SIGNING_KEY_FILE", path), "")
	if err != nil || c.SigningKey.Value() != goodKey {
		t.Fatalf("key from file = %q, %v", c.SigningKey.Value(), err)
	}
	if _, err := Load(env("TOLLGATE_SIGNING_KEY_FILE", path, "TOLLGATE_SIGNING_KEY", goodKey), ""); err == nil {
		t.Error("both SIGNING_KEY and SIGNING_KEY_FILE should be refused")
	}
	_, err = Load(env("TOLLGATE_SIGNING_KEY_FILE", filepath.Join(dir, "nope")), "")
	if err == nil || !strings.Contains(err.Error(), "TOLLGATE_SIGNING_KEY_FILE") {
		t.Errorf("missing key file: err = %v", err)
	}
}

// TestValidate_EveryRuleNamesItsSetting breaks one rule at a time.
func TestValidate_EveryRuleNamesItsSetting(t *testing.T) {
	cases := []struct {
		name    string
		mutate  func(c *Config)
		setting string
		mention string
	}{
		{"access lifetime zero", func(c *Config) { c.AccessTokenLifetime = 0 }, "ACCESS_TOKEN_LIFETIME", "positive"},
		{"refresh lifetime zero", func(c *Config) { c.RefreshTokenLifetime = 0 }, "REFRESH_TOKEN_LIFETIME", "positive"},
		{"rotation without blacklist", func(c *Config) { c.BlacklistAfterRotation = false }, "BLACKLIST_AFTER_ROTATION", "no theft detection"},
		{"unknown algorithm", func(c *Config) { c.Algorithm = "none" }, "ALGORITHM", "not supported"},
		{"verifying key with HMAC", func(c *Config) { c.VerifyingKey = "pem" }, "VERIFYING_KEY", "asymmetric"},
		{"empty audience entry", func(c *Config) { c.Audience = []string{" "} }, "AUDIENCE", "empty"},
		{"negative leeway", func(c *Config) { c.Leeway = -time.Second }, "LEEWAY", "negative"},
		{"no header types", func(c *Config) { c.AuthHeaderTypes = nil }, "AUTH_HEADER_TYPES", "at least one"},
		{"bad header type", func(c *Config) { c.AuthHeaderTypes = []string{"Be arer"} }, "AUTH_HEADER_TYPES", "not a valid"},
		{"bad header name", func(c *Config) { c.AuthHeaderName = "X:Y" }, "AUTH_HEADER_NAME", "not a valid"},
		{"user id field", func(c *Config) { c.UserIDField = "uuid" }, "USER_ID_FIELD", "not supported"},
		{"user id claim empty", func(c *Config) { c.UserIDClaim = "" }, "USER_ID_CLAIM", "empty"},
		{"user id claim reserved", func(c *Config) { c.UserIDClaim = "jti" }, "USER_ID_CLAIM", "registered claim"},
		{"addr", func(c *Config) { c.Addr = "8000" }, "ADDR", "host:port"},
		{"database scheme", func(c *Config) { c.DatabaseURL = "mysql://x/y" }, "DATABASE_URL", "not supported"},
		{"database sqlite empty", func(c *Config) { c.DatabaseURL = "sqlite://" }, "DATABASE_URL", "file path"},
		{"database postgres no host", func(c *Config) { c.DatabaseURL = "postgres://" }, "DATABASE_URL", "postgres://"},
		{"redis url", func(c *Config) { c.RedisURL = "localhost:6379" }, "REDIS_URL", "redis://"},
		{"prefix", func(c *Config) { c.Prefix = "api/auth" }, "PREFIX", "start and end"},
		{"login field", func(c *Config) { c.LoginField = "phone" }, "LOGIN_FIELD", "username or email"},
		{"session max negative", func(c *Config) { c.SessionMaxLifetime = -1 }, "SESSION_MAX_LIFETIME", "negative"},
		{"grace window long", func(c *Config) { c.RefreshGraceWindow = 5 * time.Minute }, "REFRESH_GRACE_WINDOW", "too long"},
		{"grace window without rotation", func(c *Config) { c.RotateRefreshTokens = false; c.RefreshGraceWindow = time.Second }, "REFRESH_GRACE_WINDOW", "ROTATE_REFRESH_TOKENS"},
		{"login rate", func(c *Config) { c.LoginRate = Rate{} }, "LOGIN_RATE", "N > 0"},
		{"refresh rate", func(c *Config) { c.RefreshRate = Rate{N: 1} }, "REFRESH_RATE", "N > 0"},
		{"failure limit negative", func(c *Config) { c.LoginFailureLimit = -1 }, "LOGIN_FAILURE_LIMIT", "negative"},
		{"failure window", func(c *Config) { c.LoginFailureWindow = 0 }, "LOGIN_FAILURE_WINDOW", "positive"},
		{"lockout", func(c *Config) { c.LockoutDuration = 0 }, "LOCKOUT_DURATION", "positive"},
		{"tls half", func(c *Config) { c.TLSCertFile = "cert.pem" }, "TLS_CERT_FILE", "together"},
		{"tls missing files", func(c *Config) { c.TLSCertFile, c.TLSKeyFile = "/nonexistent/c.pem", "/nonexistent/k.pem" }, "TLS_KEY_FILE", "no such file"},
		{"hsts negative", func(c *Config) { c.HSTS = -1 }, "HSTS", "negative"},
		{"flush negative", func(c *Config) { c.FlushInterval = -1 }, "FLUSH_INTERVAL", "negative"},
		{"argon2 below OWASP", func(c *Config) { c.Argon2Memory, c.Argon2Time = 1024, 1 }, "PASSWORD_ARGON2_MEMORY", "OWASP"},
		{"argon2 time zero", func(c *Config) { c.Argon2Time = 0 }, "PASSWORD_ARGON2_MEMORY", "time"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.mutate(c)
			err := c.Validate()
			if err == nil {
				t.Fatal("Validate accepted it")
			}
			if !strings.Contains(err.Error(), "TOLLGATE_"+tc.setting+":") || !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("err = %q; want it to name TOLLGATE_%s and mention %q", err, tc.setting, tc.mention)
			}
		})
	}
}

func TestValidate_ReportsAllProblemsAtOnce(t *testing.T) {
	c := Default()
	c.AccessTokenLifetime = 0
	c.Prefix = "x"
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "ACCESS_TOKEN_LIFETIME") || !strings.Contains(err.Error(), "PREFIX") {
		t.Errorf("err = %v; want both problems", err)
	}
}

func TestValidate_AcceptsSensibleVariants(t *testing.T) {
	variants := []func(c *Config){
		func(c *Config) { c.RotateRefreshTokens, c.BlacklistAfterRotation = false, false },
		func(c *Config) { c.RefreshGraceWindow = 10 * time.Second },
		func(c *Config) { c.LoginFailureLimit, c.LoginFailureWindow, c.LockoutDuration = 0, 0, 0 },
		func(c *Config) { c.DatabaseURL = "postgres://u:p@db:5432/tollgate?sslmode=disable" },
		func(c *Config) { c.DatabaseURL = "sqlite:///var/lib/tollgate.db" },
		func(c *Config) { c.RedisURL = "redis://127.0.0.1:6379/0" },
		func(c *Config) { c.Addr = ":8443"; c.LoginField = "email" },
		func(c *Config) { c.Algorithm = "ES256" },
		func(c *Config) { c.Argon2Memory, c.Argon2Time = 7168, 5 },
		func(c *Config) { c.Argon2Memory, c.Argon2Time, c.Dev = 64, 1, true },
	}
	for i, v := range variants {
		c := Default()
		v(c)
		if err := c.Validate(); err != nil {
			t.Errorf("variant %d: %v", i, err)
		}
	}
}

func TestDatabase_ParsesEachForm(t *testing.T) {
	cases := map[string]Database{
		"":                                 {"sqlite", "tollgate.db"},
		"sqlite:///var/lib/t.db":           {"sqlite", "/var/lib/t.db"},
		"sqlite://data/t.db":               {"sqlite", "data/t.db"},
		"./t.db":                           {"sqlite", "./t.db"},
		"postgres://u:p@h:5432/d":          {"postgres", "postgres://u:p@h:5432/d"},
		"postgresql://h/d?sslmode=disable": {"postgres", "postgresql://h/d?sslmode=disable"},
	}
	for in, want := range cases {
		c := Default()
		c.DatabaseURL = Secret(in)
		got, err := c.Database()
		if err != nil || got != want {
			t.Errorf("Database(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

func TestString_RedactsSecrets(t *testing.T) {
	c := Default()
	c.SigningKey = "super-secret-signing-key-0123456789"
	c.DatabaseURL = "postgres://tollgate:dbpassw0rd@db:5432/tollgate"
	c.RedisURL = "redis://:redispassw0rd@cache:6379/0"
	outputs := map[string]string{
		"String": c.String(),
		"%v":     fmt.Sprintf("%v", c),
		"%+v":    fmt.Sprintf("%+v", *c),
		"%#v":    fmt.Sprintf("%#v", *c),
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "config", c, "key", c.SigningKey)
	outputs["slog"] = logged.String()
	for how, out := range outputs {
		for _, secret := range []string{"super-secret", "dbpassw0rd", "redispassw0rd"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s output leaks %q:\n%s", how, secret, out)
			}
		}
	}
	s := c.String()
	for _, want := range []string{"TOLLGATE_SIGNING_KEY=[redacted]", "TOLLGATE_ACCESS_TOKEN_LIFETIME=15m", "TOLLGATE_REFRESH_TOKEN_LIFETIME=7d", "db:5432"} {
		if !strings.Contains(s, want) {
			t.Errorf("String() lacks %q:\n%s", want, s)
		}
	}
}

func TestSettings_DefaultsParseBack(t *testing.T) {
	// Every documented default, fed back through Load, gives Default().
	var kv []string
	for _, s := range Settings() {
		if s.Env == "TOLLGATE_SIGNING_KEY" {
			continue
		}
		kv = append(kv, s.Env, s.Default)
	}
	c, err := Load(env(kv...), "")
	if err != nil {
		t.Fatal(err)
	}
	c.DatabaseURL = "" // the documented default is the file it stands for
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("defaults do not round-trip:\n%v\nwant\n%v", c, Default())
	}
}

func TestCore_CarriesSettings(t *testing.T) {
	c := Default()
	c.LoginField = "email"
	c.RefreshGraceWindow = 5 * time.Second
	c.KeepPasswordHashes = true
	got := c.Core()
	want := tollgate.Config{
		AccessTokenLifetime: 15 * time.Minute, RefreshTokenLifetime: 7 * 24 * time.Hour,
		SessionMaxLifetime: 30 * 24 * time.Hour, RotateRefreshTokens: true, RefreshGraceWindow: 5 * time.Second,
		LoginField: tollgate.LoginByEmail, UpdateLastLogin: true, KeepPasswordHashes: true,
		LoginFailureLimit: 10, LoginFailureWindow: 15 * time.Minute, LockoutDuration: 15 * time.Minute,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Core() = %+v\nwant %+v", got, want)
	}
}

func TestKeySet_HMACKeyRules(t *testing.T) {
	cases := []struct {
		name    string
		key     string
		dev     bool
		wantErr string
		devKey  bool
	}{
		{"good key", goodKey, false, "", false},
		{"missing key refused", "", false, "TOLLGATE_SIGNING_KEY: not set", false},
		{"short key refused", "short", false, "TOLLGATE_SIGNING_KEY: must be at least 32 bytes", false},
		{"missing key in dev generated", "", true, "", true},
		{"short key in dev replaced", "short", true, "", true},
		{"good key in dev kept", goodKey, true, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.DatabaseURL = Secret(filepath.Join(t.TempDir(), "t.db"))
			c.SigningKey, c.Dev = Secret(tc.key), tc.dev
			ks, dk, err := c.KeySet(rand.Reader)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (dk != nil) != tc.devKey {
				t.Fatalf("dev key = %+v, want one: %v", dk, tc.devKey)
			}
			if dk != nil && dk.ReplacedShort != (tc.key != "") {
				t.Errorf("ReplacedShort = %v", dk.ReplacedShort)
			}
			k, _ := ks.SigningKey()
			if tc.key == goodKey && string(k.Private.([]byte)) != goodKey {
				t.Error("the configured key is not the signing key")
			}
		})
	}
}

func TestKeySet_DevKeyPersistsOnceWithMode0600(t *testing.T) {
	dir := t.TempDir()
	c := Default()
	c.Dev = true
	c.DatabaseURL = Secret("sqlite://" + filepath.Join(dir, "tollgate.db"))
	ks1, dk1, err := c.KeySet(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if !dk1.Created || dk1.Path != filepath.Join(dir, "tollgate.db.dev-key") {
		t.Fatalf("first start: %+v", dk1)
	}
	fi, err := os.Stat(dk1.Path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("dev key mode = %v, want 0600", fi.Mode().Perm())
	}
	// A restart reads the same key rather than generating another; the
	// failing reader proves no new randomness is drawn.
	ks2, dk2, err := c.KeySet(failingReader{})
	if err != nil {
		t.Fatal(err)
	}
	if dk2.Created {
		t.Error("second start generated a new key")
	}
	k1, _ := ks1.SigningKey()
	k2, _ := ks2.SigningKey()
	if !bytes.Equal(k1.Private.([]byte), k2.Private.([]byte)) {
		t.Error("restart changed the dev key: tokens would stop verifying")
	}
	if len(k1.Private.([]byte)) < 32 {
		t.Error("dev key shorter than 32 bytes")
	}

	// A truncated key file is refused, naming the file.
	writeFile(t, dk1.Path, "short\n")
	if _, _, err := c.KeySet(rand.Reader); err == nil || !strings.Contains(err.Error(), dk1.Path) {
		t.Errorf("short dev key file: err = %v", err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, fmt.Errorf("no randomness in this test") }

func TestKeySet_Asymmetric(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecPEM := pemOf(t, ecKey)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	edPEM := pemOf(t, edKey)
	otherEC, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherPub, _ := x509.MarshalPKIXPublicKey(otherEC.Public())
	otherPubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: otherPub}))
	ownPub, _ := x509.MarshalPKIXPublicKey(ecKey.Public())
	ownPubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ownPub}))

	cases := []struct {
		name, alg, key, verifying, wantErr string
	}{
		{"ES256 key", "ES256", ecPEM, "", ""},
		{"ES256 with its public key", "ES256", ecPEM, ownPubPEM, ""},
		{"EdDSA key", "EdDSA", edPEM, "", ""},
		{"missing key", "ES256", "", "", "needs a PEM private key"},
		{"wrong curve", "ES384", ecPEM, "", "needs a P-384 key"},
		{"wrong type", "RS256", ecPEM, "", "not a PEM private key"},
		{"mismatched verifying key", "ES256", ecPEM, otherPubPEM, "not the public half"},
		{"garbage verifying key", "ES256", ecPEM, "nope", "not a PEM public key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.Algorithm, c.SigningKey, c.VerifyingKey = tc.alg, Secret(tc.key), tc.verifying
			ks, _, err := c.KeySet(rand.Reader)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			k, _ := ks.SigningKey()
			if k.ID == "" || k.Method.Alg() != tc.alg {
				t.Errorf("key = kid %q alg %s", k.ID, k.Method.Alg())
			}
		})
	}
}

func TestHeaderName_TranslatesDjangoMetaSpelling(t *testing.T) {
	cases := map[string]string{
		"HTTP_AUTHORIZATION": "Authorization",
		"HTTP_X_API_TOKEN":   "X-Api-Token",
		"Authorization":      "Authorization",
		"X-Token":            "X-Token",
	}
	for in, want := range cases {
		if got := headerName(in); got != want {
			t.Errorf("headerName(%q) = %q, want %q", in, got, want)
		}
	}
}

func pemOf(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestReadme_DocumentsEverySetting keeps the README's configuration table in
// step with the settings: each variable appears with its default.
func TestReadme_DocumentsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Skipf("no README next to the module: %v", err)
	}
	readme := string(b)
	for _, s := range Settings() {
		d := s.Default
		if d == "" {
			d = "(empty)"
		}
		if row := fmt.Sprintf("| `%s` | `%s` |", s.Env, d); !strings.Contains(readme, row) {
			t.Errorf("README lacks the row %q", row)
		}
	}
}
