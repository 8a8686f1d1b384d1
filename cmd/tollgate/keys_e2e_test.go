package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/keys"
	"github.com/tollgate/tollgate/token"
)

// The stored-keys end-to-end test drives `serve` with ALGORITHM=ES256 and
// no SIGNING_KEY: the server generates its first key in the SQLite file,
// sealed with the KEK, and publishes it; `tollgate keys rotate` and
// `tollgate keys revoke`, run beside it against the same file, are picked
// up by the server's reload loop. Timings are shrunk by settings
// (JWKS_MAX_AGE=1s publishes a new key for 2s before it signs; the server
// rereads keys every 100ms) and every wait polls up to a deadline.

const testIssuer = "https://auth.example.test"

// storedKeysEnv is the settings of the test's deployment.
func storedKeysEnv(kekFile string) []string {
	return []string{
		"TOLLGATE_ALGORITHM=ES256",
		"TOLLGATE_KEY_ENCRYPTION_KEY_FILE=" + kekFile,
		"TOLLGATE_JWKS_MAX_AGE=1s",
		"TOLLGATE_KEY_RELOAD_INTERVAL=100ms",
		"TOLLGATE_ISSUER=" + testIssuer,
		"TOLLGATE_LOGIN_RATE=1000/min",
		"TOLLGATE_REFRESH_RATE=1000/min",
	}
}

// runWith runs one CLI command with extra settings.
func runWith(t *testing.T, bin, dir string, extraEnv []string, stdin string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Env = dir, append(newcomerEnv(), extraEnv...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("tollgate %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

// kidOf reads the kid from a token's header (the signature is checked
// elsewhere; this only says which key claims to have signed).
func kidOf(t *testing.T, tok string) string {
	t.Helper()
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	if err != nil {
		t.Fatalf("not a JWT: %v", err)
	}
	kid, _ := parsed.Header["kid"].(string)
	return kid
}

// jwksVerifier verifies access tokens from the server's JWKS document
// alone, as a downstream service does.
func jwksVerifier(t *testing.T, root string) *token.Codec {
	t.Helper()
	remote, err := keys.NewRemoteKeySet(root+keys.JWKSPath, keys.WithRefetchInterval(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	c, err := token.New(token.Config{Keys: remote, Issuer: testIssuer})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// getJSON fetches a document and returns its body and Cache-Control.
func getJSON(t *testing.T, url string, v any) string {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.Header.Get("Cache-Control")
}

// jwksKids lists the kids the JWKS document publishes now.
func jwksKids(t *testing.T, root string) []string {
	t.Helper()
	var doc struct {
		Keys []struct {
			Kid string `json:"kid"`
			Alg string `json:"alg"`
		} `json:"keys"`
	}
	getJSON(t, root+keys.JWKSPath, &doc)
	var kids []string
	for _, k := range doc.Keys {
		kids = append(kids, k.Kid+"/"+k.Alg)
	}
	return kids
}

// eventually polls cond every 50ms until it holds or the deadline passes.
func eventually(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var newKeyLine = regexp.MustCompile(`new key (\S+) \(ES256\): pending`)

func TestStoredKeys_ServeRotateAndRevokeAcrossTheCLI(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	kekFile := filepath.Join(dir, "kek")
	if err := os.WriteFile(kekFile, []byte(strings.Repeat("5a", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := storedKeysEnv(kekFile)

	srv := startServer(t, bin, dir, env...)
	root := strings.TrimSuffix(srv.base, "/api/auth/")
	if fi, err := os.Stat(filepath.Join(dir, "tollgate.db")); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("the database file holding password hashes and keys has mode %v; want 0600", fi.Mode().Perm())
	}
	if !strings.Contains(srv.logs.String(), "key_rotated") {
		eventually(t, "a key_rotated event for the first key", 5*time.Second, func() bool {
			return strings.Contains(srv.logs.String(), "key_rotated")
		})
	}

	// The first key is stored sealed with the KEK, and the CLI sees it
	// through the same settings.
	out, stderr, code := runWith(t, bin, dir, env, "", "keys", "list")
	if code != 0 || !strings.Contains(out, "active") || !strings.Contains(out, "true") {
		t.Fatalf("keys list: status %d\n%s%s", code, out, stderr)
	}
	wrongKEK := filepath.Join(dir, "wrong-kek")
	if err := os.WriteFile(wrongKEK, []byte(strings.Repeat("a5", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := runWith(t, bin, dir, env, "", "keys", "list", "--kek-file", wrongKEK); code != exitFail || !strings.Contains(stderr, "KEY_ENCRYPTION_KEY") {
		t.Errorf("keys list with the wrong KEK: status %d, %q; want 1 naming KEY_ENCRYPTION_KEY", code, stderr)
	}

	const pw = "correct horse battery"
	out, stderr, code = runWith(t, bin, dir, env, pw+"\n", "users", "create", "--username", "bob", "--password-stdin")
	if code != 0 {
		t.Fatalf("users create: status %d\n%s%s", code, out, stderr)
	}

	// A token names its key, and a verifier holding nothing but the JWKS
	// URL accepts it.
	p1 := srv.login(t, "bob", pw)
	kid1 := kidOf(t, p1.access)
	if kid1 == "" {
		t.Fatal("the access token has no kid")
	}
	downstream := jwksVerifier(t, root)
	if _, err := downstream.Parse(p1.access, tollgate.AccessToken); err != nil {
		t.Fatalf("the JWKS verifier refuses a fresh token: %v", err)
	}
	var disc keys.Discovery
	getJSON(t, root+keys.DiscoveryPath, &disc)
	if disc.Issuer != testIssuer || disc.JWKSURI != testIssuer+keys.JWKSPath {
		t.Errorf("discovery document = %+v", disc)
	}
	if cc := getJSON(t, root+keys.JWKSPath, &map[string]any{}); !strings.Contains(cc, "max-age=1,") {
		t.Errorf("JWKS Cache-Control = %q; want JWKS_MAX_AGE (1s)", cc)
	}

	// Rotate from the CLI: the new key is published at once (the server
	// rereads keys), signs after its publication time, and the old key's
	// tokens keep verifying.
	out, stderr, code = runWith(t, bin, dir, env, "", "keys", "rotate")
	m := newKeyLine.FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("keys rotate: status %d\n%s%s", code, out, stderr)
	}
	kid2 := m[1]
	eventually(t, "the new key in JWKS", 5*time.Second, func() bool {
		return strings.Contains(strings.Join(jwksKids(t, root), " "), kid2+"/ES256")
	})
	var p2 pair
	eventually(t, "tokens signed by the new key", 10*time.Second, func() bool {
		p2 = srv.login(t, "bob", pw)
		return kidOf(t, p2.access) == kid2
	})
	if c := srv.verify(t, p1.access); c != http.StatusOK {
		t.Errorf("an old key's access token after rotation: verify = %d, want 200", c)
	}
	if _, err := downstream.Parse(p2.access, tollgate.AccessToken); err != nil {
		t.Errorf("the JWKS verifier refuses the new key's token: %v", err)
	}
	if _, err := downstream.Parse(p1.access, tollgate.AccessToken); err != nil {
		t.Errorf("the JWKS verifier refuses the old key's token after rotation: %v", err)
	}
	if got := jwksKids(t, root); len(got) != 2 {
		t.Errorf("JWKS after rotation lists %v; want the old and the new key", got)
	}

	// Revoke the old key (compromise): its tokens fail on the server once
	// it has reread the keys, and it leaves JWKS.
	if out, stderr, code := runWith(t, bin, dir, env, "", "keys", "revoke", kid1); code != 0 {
		t.Fatalf("keys revoke: status %d\n%s%s", code, out, stderr)
	}
	eventually(t, "the revoked key's token refused", 5*time.Second, func() bool {
		return srv.verify(t, p1.access) == http.StatusUnauthorized
	})
	if _, code, c := srv.refresh(t, p1.refresh); code != http.StatusUnauthorized || c != "token_not_valid" {
		t.Errorf("refresh with a revoked key's token = %d %q; want 401 token_not_valid", code, c)
	}
	if got := strings.Join(jwksKids(t, root), " "); strings.Contains(got, kid1) {
		t.Errorf("JWKS still lists the revoked key: %s", got)
	}
	if _, err := jwksVerifier(t, root).Parse(p1.access, tollgate.AccessToken); err == nil {
		t.Error("a fresh JWKS verifier accepts the revoked key's token")
	}
	if c := srv.verify(t, p2.access); c != http.StatusOK {
		t.Errorf("the new key's token after revoking the old: verify = %d", c)
	}
	if _, code, c := srv.refresh(t, p2.refresh); code != http.StatusOK {
		t.Errorf("refresh of the new key's token = %d %q", code, c)
	}
	srv.stop(t)
}
