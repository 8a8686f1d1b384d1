package token_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/token"
	"github.com/tollgate/tollgate/token/tokentest"
)

var (
	testNow    = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	testSecret = []byte("0123456789abcdef0123456789abcdef")
)

// newHMACCodec returns an HS256 codec at testNow; mod adjusts its config.
func newHMACCodec(t testing.TB, mod func(*token.Config)) *token.Codec {
	t.Helper()
	ks, err := token.NewHMACKeySet("HS256", testSecret)
	if err != nil {
		t.Fatal(err)
	}
	cfg := token.Config{Keys: ks, Now: func() time.Time { return testNow }}
	if mod != nil {
		mod(&cfg)
	}
	c, err := token.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func accessClaims() *tollgate.Claims {
	return &tollgate.Claims{
		Type:      tollgate.AccessToken,
		JTI:       "0123456789abcdef0123456789abcdef",
		UserID:    "42",
		SessionID: "s1",
		IssuedAt:  testNow,
		ExpiresAt: testNow.Add(5 * time.Minute),
	}
}

// hs256 signs claims (a map, encoded by the JOSE library) with the test secret.
func hs256(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// hs256Raw signs a payload given as raw JSON text.
func hs256Raw(payload string) string {
	return tokentest.Sign(jwt.SigningMethodHS256, testSecret, `{"alg":"HS256","typ":"JWT"}`, payload)
}

func validMap() jwt.MapClaims {
	return jwt.MapClaims{
		"token_type": "access",
		"jti":        "abc",
		"user_id":    "7",
		"iat":        testNow.Unix(),
		"exp":        testNow.Add(time.Minute).Unix(),
	}
}

func TestCodec_RoundTrip(t *testing.T) {
	c := newHMACCodec(t, func(cfg *token.Config) {
		cfg.Issuer = "https://auth.example"
		cfg.Audience = []string{"api"}
	})
	in := accessClaims()
	raw, err := c.Sign(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Parse(raw, tollgate.AccessToken)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if out.Type != in.Type || out.JTI != in.JTI || out.UserID != in.UserID || out.SessionID != in.SessionID ||
		!out.IssuedAt.Equal(in.IssuedAt) || !out.ExpiresAt.Equal(in.ExpiresAt) ||
		out.Issuer != "https://auth.example" || len(out.Audience) != 1 || out.Audience[0] != "api" {
		t.Fatalf("round trip changed the claims:\n in  %+v\n out %+v", in, out)
	}
	if out.Extra != nil {
		t.Fatalf("Extra = %v, want none", out.Extra)
	}
}

func TestParse_ExpiryIsExclusiveAndLeewayShiftsIt(t *testing.T) {
	for _, tc := range []struct {
		name    string
		exp     time.Time
		leeway  time.Duration
		expired bool
	}{
		{"exp one second ahead", testNow.Add(time.Second), 0, false},
		{"exp equals now", testNow, 0, true},
		{"exp one second ago", testNow.Add(-time.Second), 0, true},
		{"exp equals now with leeway", testNow, 2 * time.Second, false},
		{"exp inside the leeway", testNow.Add(-time.Second), 2 * time.Second, false},
		{"exp at the leeway edge", testNow.Add(-2 * time.Second), 2 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newHMACCodec(t, func(cfg *token.Config) { cfg.Leeway = tc.leeway })
			cl := accessClaims()
			cl.ExpiresAt = tc.exp
			raw, err := c.Sign(cl)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Parse(raw, "")
			if tc.expired && !errors.Is(err, tollgate.ErrTokenExpired) {
				t.Fatalf("err = %v, want ErrTokenExpired", err)
			}
			if !tc.expired && err != nil {
				t.Fatalf("err = %v, want none", err)
			}
		})
	}
}

func TestParse_RequiredClaimMissingIsInvalid(t *testing.T) {
	c := newHMACCodec(t, nil)
	for _, claim := range []string{"exp", "jti", "token_type", "user_id"} {
		t.Run(claim, func(t *testing.T) {
			m := validMap()
			delete(m, claim)
			_, err := c.Parse(hs256(t, m), "")
			if !errors.Is(err, tollgate.ErrTokenInvalid) {
				t.Fatalf("err = %v, want ErrTokenInvalid", err)
			}
		})
	}
}

func TestParse_RequiredClaimEmptyIsInvalid(t *testing.T) {
	c := newHMACCodec(t, nil)
	for _, claim := range []string{"jti", "token_type", "user_id"} {
		t.Run(claim, func(t *testing.T) {
			m := validMap()
			m[claim] = ""
			if _, err := c.Parse(hs256(t, m), ""); !errors.Is(err, tollgate.ErrTokenInvalid) {
				t.Fatalf("err = %v, want ErrTokenInvalid", err)
			}
		})
	}
}

func TestParse_NumericDateOfWrongTypeIsInvalid(t *testing.T) {
	c := newHMACCodec(t, nil)
	future := testNow.Add(time.Hour).Unix()
	for _, claim := range []string{"exp", "iat", "nbf"} {
		for _, v := range []any{json.Number("1e999"), "1900000000", true, map[string]any{}, []any{future}, nil} {
			t.Run(claim+"/"+strings.TrimSpace(string(mustJSON(t, v))), func(t *testing.T) {
				m := validMap()
				m[claim] = v
				_, err := c.Parse(hs256(t, m), "")
				if err == nil {
					t.Fatal("accepted")
				}
				if tollgate.ErrorCode(err) != tollgate.ETokenNotValid {
					t.Fatalf("code = %q, want %q (err %v)", tollgate.ErrorCode(err), tollgate.ETokenNotValid, err)
				}
			})
		}
	}
}

func mustJSON(t testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParse_WrongTokenTypeIsRefusedBothWays(t *testing.T) {
	c := newHMACCodec(t, nil)
	for _, tc := range []struct{ have, want tollgate.TokenType }{
		{tollgate.AccessToken, tollgate.RefreshToken},
		{tollgate.RefreshToken, tollgate.AccessToken},
	} {
		cl := accessClaims()
		cl.Type = tc.have
		raw, err := c.Sign(cl)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Parse(raw, tc.want); !errors.Is(err, tollgate.ErrWrongTokenType) {
			t.Errorf("%s token where %s is wanted: err = %v, want ErrWrongTokenType", tc.have, tc.want, err)
		}
		if _, err := c.Parse(raw, tc.have); err != nil {
			t.Errorf("%s token where %s is wanted: %v", tc.have, tc.have, err)
		}
		if _, err := c.Parse(raw, ""); err != nil {
			t.Errorf("%s token where any type is wanted: %v", tc.have, err)
		}
	}
}

func TestParse_IssuerAndAudienceEnforcedWhenConfigured(t *testing.T) {
	strict := newHMACCodec(t, func(cfg *token.Config) {
		cfg.Issuer = "https://auth.example"
		cfg.Audience = []string{"api", "admin"}
	})
	lax := newHMACCodec(t, nil)
	for _, tc := range []struct {
		name   string
		set    jwt.MapClaims
		strict bool // accepted by the codec with iss/aud configured
	}{
		{"matching iss and aud", jwt.MapClaims{"iss": "https://auth.example", "aud": "api"}, true},
		{"aud array with one match", jwt.MapClaims{"iss": "https://auth.example", "aud": []string{"other", "admin"}}, true},
		{"no iss", jwt.MapClaims{"aud": "api"}, false},
		{"other iss", jwt.MapClaims{"iss": "https://evil.example", "aud": "api"}, false},
		{"no aud", jwt.MapClaims{"iss": "https://auth.example"}, false},
		{"other aud", jwt.MapClaims{"iss": "https://auth.example", "aud": "web"}, false},
		{"iss of wrong type", jwt.MapClaims{"iss": 1, "aud": "api"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := validMap()
			for k, v := range tc.set {
				m[k] = v
			}
			raw := hs256(t, m)
			_, err := strict.Parse(raw, "")
			if tc.strict && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.strict && !errors.Is(err, tollgate.ErrTokenInvalid) {
				t.Fatalf("err = %v, want ErrTokenInvalid", err)
			}
		})
	}
	// Without configuration neither is required.
	if _, err := lax.Parse(hs256(t, validMap()), ""); err != nil {
		t.Fatalf("codec without iss/aud refused a token without them: %v", err)
	}
}

func TestSign_CustomClaimsRoundTripAndCannotOverrideReserved(t *testing.T) {
	c := newHMACCodec(t, nil)
	cl := accessClaims()
	cl.Extra = map[string]any{
		"org_id": "acme", "role": "admin", "level": 3, "tags": []string{"a", "b"},
		// Reserved names: Sign must keep its own values.
		"token_type": "refresh", "exp": testNow.Add(100 * 24 * time.Hour).Unix(), "jti": "forged",
		"user_id": "1", "sid": "other", "iss": "evil", "aud": "evil", "iat": 0, "nbf": testNow.Add(time.Hour).Unix(), "sub": "1",
	}
	raw, err := c.Sign(cl)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Parse(raw, tollgate.AccessToken)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if out.UserID != "42" || out.JTI != cl.JTI || out.SessionID != "s1" || !out.ExpiresAt.Equal(cl.ExpiresAt) ||
		!out.IssuedAt.Equal(cl.IssuedAt) || out.Issuer != "" || out.Audience != nil {
		t.Fatalf("a custom claim overrode a reserved one: %+v", out)
	}
	want := map[string]string{"org_id": `"acme"`, "role": `"admin"`, "level": `3`, "tags": `["a","b"]`}
	if len(out.Extra) != len(want) {
		t.Fatalf("Extra = %v, want the keys of %v", out.Extra, want)
	}
	for k, v := range want {
		if got := string(mustJSON(t, out.Extra[k])); got != v {
			t.Errorf("Extra[%q] = %s, want %s", k, got, v)
		}
	}
}

func TestParse_UserIDStringOrInteger(t *testing.T) {
	c := newHMACCodec(t, nil)
	for _, tc := range []struct {
		name    string
		raw     string // the user_id value as JSON text
		want    string
		invalid bool
	}{
		{"string", `"42"`, "42", false},
		{"integer (SimpleJWT < 5.3)", `42`, "42", false},
		{"large integer", `9007199254740993`, "9007199254740993", false},
		{"float", `4.2`, "", true},
		{"exponent", `1e3`, "", true},
		{"bool", `true`, "", true},
		{"null", `null`, "", true},
		{"empty string", `""`, "", true},
		{"too long", `"` + strings.Repeat("1", 256) + `"`, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			payload := `{"token_type":"access","jti":"j","exp":` + jsonInt(testNow.Add(time.Minute).Unix()) + `,"user_id":` + tc.raw + `}`
			out, err := c.Parse(hs256Raw(payload), "")
			if tc.invalid {
				if !errors.Is(err, tollgate.ErrTokenInvalid) {
					t.Fatalf("err = %v, want ErrTokenInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.UserID != tc.want {
				t.Fatalf("UserID = %q, want %q", out.UserID, tc.want)
			}
		})
	}
}

func jsonInt(n int64) string { return itoa(n) }

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestParse_CustomUserIDClaim(t *testing.T) {
	c := newHMACCodec(t, func(cfg *token.Config) { cfg.UserIDClaim = "uid" })
	raw, err := c.Sign(accessClaims())
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Parse(raw, "")
	if err != nil || out.UserID != "42" {
		t.Fatalf("Parse = %+v, %v", out, err)
	}
	// A token carrying the default claim name only is not a Tollgate token here.
	if _, err := c.Parse(hs256(t, validMap()), ""); !errors.Is(err, tollgate.ErrTokenInvalid) {
		t.Fatalf("token without uid: err = %v, want ErrTokenInvalid", err)
	}
}

func TestParse_TokenOfAnotherSecretIsInvalid(t *testing.T) {
	c := newHMACCodec(t, nil)
	other, err := jwt.NewWithClaims(jwt.SigningMethodHS256, validMap()).SignedString([]byte("another secret that is 32 bytes!"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Parse(other, ""); !errors.Is(err, tollgate.ErrTokenInvalid) {
		t.Fatalf("err = %v, want ErrTokenInvalid", err)
	}
}

func TestNewHMACKeySet_RefusesShortSecretAndOtherAlgorithms(t *testing.T) {
	if _, err := token.NewHMACKeySet("HS256", testSecret[:31]); err == nil {
		t.Error("31-byte secret accepted")
	}
	if _, err := token.NewHMACKeySet("RS256", testSecret); err == nil {
		t.Error("RS256 accepted as an HMAC algorithm")
	}
}
