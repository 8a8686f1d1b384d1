package middleware

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tollgate/tollgate"
)

// The files in testdata/simplejwt were made by Django + SimpleJWT with
// mint_access_token.py (see its doc comment); these tests only read them.
const simpleJWTDir = "testdata/simplejwt"

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(simpleJWTDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// unverifiedClaims decodes a token's claims without checking it: the tests
// use it to read what a token says, never to accept it.
func unverifiedClaims(t *testing.T, raw string) (jwt.MapClaims, map[string]any) {
	t.Helper()
	m := jwt.MapClaims{}
	tok, _, err := jwt.NewParser(jwt.WithJSONNumber()).ParseUnverified(raw, m)
	if err != nil {
		t.Fatal(err)
	}
	return m, tok.Header
}

func TestSimpleJWT_AccessTokenAccepted(t *testing.T) {
	raw := readTestdata(t, "access_token.txt")
	key := []byte(readTestdata(t, "signing_key.txt"))
	m, _ := unverifiedClaims(t, raw)
	iat, err := m.GetIssuedAt()
	if err != nil || iat == nil {
		t.Fatalf("the SimpleJWT token has no iat: %v", err)
	}
	exp, err := m.GetExpirationTime()
	if err != nil || exp == nil {
		t.Fatalf("the SimpleJWT token has no exp: %v", err)
	}

	clk := &clock{now: iat.Add(time.Minute)}
	codec := newCodec(t, key, clk.Now)
	alice := &tollgate.User{ID: 42, Username: "alice", IsActive: true}
	h, s := protect(t, Config{Tokens: codec, Users: &users{byID: map[int64]*tollgate.User{42: alice}}})
	w := get(h, []string{"Bearer " + raw})
	if w.Code != http.StatusNoContent {
		t.Fatalf("status = %d, want 204; body %s", w.Code, w.Body)
	}
	if !s.hasUserID || s.userID != 42 || s.user != alice {
		t.Errorf("UserIDFrom = %d, %v; UserFrom = %+v", s.userID, s.hasUserID, s.user)
	}
	if s.claims.JTI != m["jti"] || s.claims.SessionID != "" || !s.claims.ExpiresAt.Equal(exp.Time) {
		t.Errorf("claims = %+v, token says %v", s.claims, m)
	}

	// The same token at its exp is expired, as SimpleJWT's check_exp has it.
	clk.now = exp.Time
	w = get(h, []string{"Bearer " + raw})
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("at exp: status = %d, want 401", w.Code)
	}
	if b := decodeBody(t, w); b.Code != tollgate.ETokenNotValid || len(b.Messages) != 1 || b.Messages[0].Message != tollgate.ErrTokenExpired.Message {
		t.Errorf("at exp: body = %+v", b)
	}
}

// mintTollgateAccessToken signs an access token for user 42 exactly as
// tollgate.Service does (see mintPair), with the compatibility key.
func mintTollgateAccessToken(t *testing.T, now time.Time) string {
	t.Helper()
	codec := newCodec(t, []byte(readTestdata(t, "signing_key.txt")), nil)
	now = now.Truncate(time.Second)
	return sign(t, codec, &tollgate.Claims{
		Type: tollgate.AccessToken, JTI: "5f0c8a4e2b7d4c19a6e3f1b2c3d4e5f6", UserID: "42",
		SessionID: "0123456789abcdef0123456789abcdef", IssuedAt: now, ExpiresAt: now.Add(15 * time.Minute),
	})
}

// TestSimpleJWT_TollgateTokenClaimLayout pins what SimpleJWT's
// AccessToken(raw) requires of a token (verify_tollgate_token.py checked
// it once against the real library): HS256 with typ JWT, token_type
// "access", integer exp and iat, a jti, and the user_id claim, which
// Tollgate writes as a string (Django's ORM turns it back into the key).
func TestSimpleJWT_TollgateTokenClaimLayout(t *testing.T) {
	m, header := unverifiedClaims(t, mintTollgateAccessToken(t, t0))
	if header["alg"] != "HS256" || header["typ"] != "JWT" {
		t.Errorf("header = %v, want alg HS256, typ JWT", header)
	}
	if m["token_type"] != "access" {
		t.Errorf("token_type = %#v, want \"access\"", m["token_type"])
	}
	for _, name := range []string{"exp", "iat"} {
		n, ok := m[name].(json.Number)
		if !ok {
			t.Errorf("%s = %#v, want a number", name, m[name])
			continue
		}
		if _, err := n.Int64(); err != nil {
			t.Errorf("%s = %s, want an integer (SimpleJWT's datetime_from_epoch)", name, n)
		}
	}
	if n, _ := m["exp"].(json.Number).Int64(); n != t0.Add(15*time.Minute).Unix() {
		t.Errorf("exp = %d, want %d", n, t0.Add(15*time.Minute).Unix())
	}
	jti, ok := m["jti"].(string)
	if b, err := hex.DecodeString(jti); !ok || err != nil || len(b) != 16 {
		t.Errorf("jti = %#v, want 32 hex digits", m["jti"])
	}
	if m["user_id"] != "42" {
		t.Errorf("user_id = %#v, want the string \"42\"", m["user_id"])
	}
	if _, ok := m["nbf"]; ok {
		t.Error("nbf is set; SimpleJWT never sets it")
	}
}

// TestSimpleJWT_AcceptsTollgateToken runs verify_tollgate_token.py against a
// fresh Tollgate token. It needs Python with Django and SimpleJWT, so it
// runs only when TOLLGATE_SIMPLEJWT_PYTHON names the interpreter:
//
//	TOLLGATE_SIMPLEJWT_PYTHON=/usr/bin/python3 go test ./middleware -run SimpleJWT
func TestSimpleJWT_AcceptsTollgateToken(t *testing.T) {
	python := os.Getenv("TOLLGATE_SIMPLEJWT_PYTHON")
	if python == "" {
		t.Skip("set TOLLGATE_SIMPLEJWT_PYTHON to a python3 with Django + SimpleJWT to run")
	}
	// SimpleJWT checks exp against the wall clock.
	raw := mintTollgateAccessToken(t, time.Now())
	cmd := exec.Command(python, filepath.Join(simpleJWTDir, "verify_tollgate_token.py"), raw)
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("SimpleJWT refused a Tollgate access token: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
