package token_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/token"
	"github.com/tollgate/tollgate/token/tokentest"
)

// A forgery is refused on its signature before the checks golang-jwt's
// decoding leaves to Tollgate (duplicate names, depth) run: a payload that
// is valid JSON but would fail them reports the signature. golang-jwt
// decodes the payload into the typed claims before it verifies, so a
// payload that is not JSON at all is refused as malformed whoever signed it
// (it cannot say more than the struct decode already did).
func TestParse_SignatureIsCheckedBeforeThePayloadWalk(t *testing.T) {
	c := newHMACCodec(t, nil)
	forger := []byte("another secret that is 32 bytes!")
	deep := `{"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`
	for _, payload := range []string{`{"a":1,"a":2}`, deep, `{"ctx":{"role":"user","role":"admin"}}`} {
		other := tokentest.Sign(jwt.SigningMethodHS256, forger, `{"alg":"HS256","typ":"JWT"}`, payload)
		_, err := c.Parse(other, "")
		if !errors.Is(err, tollgate.ErrTokenInvalid) || !errors.Is(err, jwt.ErrSignatureInvalid) {
			t.Errorf("payload %q: err = %v, want the signature's refusal", payload, err)
		}
		// Signed with the real key, the same payload is refused for what it is.
		_, err = c.Parse(hs256Raw(payload), "")
		if !errors.Is(err, tollgate.ErrTokenInvalid) || errors.Is(err, jwt.ErrSignatureInvalid) {
			t.Errorf("payload %q signed with the key: err = %v, want a refusal of the payload", payload, err)
		}
	}
	for _, payload := range []string{`not json`, strings.Repeat("[", 100)} {
		for _, key := range [][]byte{forger, testSecret} {
			raw := tokentest.Sign(jwt.SigningMethodHS256, key, `{"alg":"HS256","typ":"JWT"}`, payload)
			if _, err := c.Parse(raw, ""); !errors.Is(err, tollgate.ErrTokenInvalid) || !errors.Is(err, jwt.ErrTokenMalformed) {
				t.Errorf("payload %q: err = %v, want a malformed token", payload, err)
			}
		}
	}
}

// The same payload, header written differently: each header is read on its
// own, cached or not.
func TestParse_EquivalentHeadersAllVerify(t *testing.T) {
	c := newHMACCodec(t, nil)
	payload := `{"token_type":"access","jti":"j","user_id":"1","exp":` + itoa(testNow.Unix()+60) + `}`
	for range 2 { // the second round meets the cached headers
		for _, h := range []string{`{"alg":"HS256","typ":"JWT"}`, `{"typ":"JWT","alg":"HS256"}`, `{"alg":"HS256"}`,
			`{ "alg" : "HS256" }`, `{"alg":"HS\u0032\u0035\u0036","typ":"jwt"}`} {
			raw := tokentest.Sign(jwt.SigningMethodHS256, testSecret, h, payload)
			if _, err := c.Parse(raw, ""); err != nil {
				t.Errorf("header %s: %v", h, err)
			}
		}
	}
	// And a header that was cached for one token is no pass for another's
	// bad signature.
	good := tokentest.Sign(jwt.SigningMethodHS256, testSecret, `{"alg":"HS256","typ":"JWT"}`, payload)
	bad := good[:strings.LastIndexByte(good, '.')+1] + strings.Repeat("A", 43)
	if _, err := c.Parse(bad, ""); !errors.Is(err, jwt.ErrSignatureInvalid) {
		t.Fatalf("err = %v, want a bad signature", err)
	}
}

// The happy path's allocations are pinned so that a change in them is
// seen. On Go 1.26 a parse of this token makes 139: golang-jwt's
// ParseWithClaims (split, base64, the header into a map, the payload into
// the typed claims, HMAC, Validator) about 45, and the walk of the payload
// with encoding/json's token stream about 70 (each scalar token costs
// several: the decoder builds a SyntaxError for the ',' or ':' that ends
// it). The hand-written scanner this replaced made 11; golang-jwt's own
// Parse into MapClaims makes 67. A header seen before is not walked again
// (headerCache): without the cache a parse makes 177.
func TestParse_AllocationsStayBounded(t *testing.T) {
	c := newHMACCodec(t, nil)
	raw, err := c.Sign(accessClaims())
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := c.Parse(raw, tollgate.AccessToken); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 150 {
		t.Fatalf("Parse allocates %.0f times, want at most 150", allocs)
	}
}

// encoding/json matches a struct field's name without regard to case (and
// folds 'ſ' to 's' and the Kelvin sign to 'k'), so a second spelling of a
// registered claim would silently overwrite the first; such tokens are
// refused, while the same names spelled exactly verify.
func TestParse_RefusesClaimNamesDifferingOnlyInCase(t *testing.T) {
	c := newHMACCodec(t, nil)
	exp := itoa(testNow.Unix() + 60)
	base := `{"token_type":"access","jti":"j","user_id":"1","exp":` + exp
	if _, err := c.Parse(hs256Raw(base+`}`), ""); err != nil {
		t.Fatalf("control refused: %v", err)
	}
	for _, extra := range []string{
		`"EXP":99999999999`, `"Exp":` + exp, `"USER_ID":"2"`, `"to\u212Aen_type":"refresh"`,
		`"ſid":"other"`, `"JTI":"k"`, `"Aud":"api"`, `"NBF":1`, `"Iat":1`, `"ISS":"x"`,
	} {
		_, err := c.Parse(hs256Raw(base+`,`+extra+`}`), "")
		if !errors.Is(err, tollgate.ErrTokenInvalid) {
			t.Errorf("%s: err = %v, want ErrTokenInvalid", extra, err)
		}
	}
	// Custom claims whose names merely contain a registered one are custom claims.
	cl, err := c.Parse(hs256Raw(base+`,"exp_hint":1,"user":"u"}`), "")
	if err != nil || len(cl.Extra) != 2 {
		t.Fatalf("Parse = %+v, %v; want two custom claims", cl, err)
	}
}

// Nesting is bounded at 16 levels, the payload object being the first, in
// objects and arrays alike.
func TestParse_NestingBoundIsSixteen(t *testing.T) {
	c := newHMACCodec(t, nil)
	base := `{"token_type":"access","jti":"j","user_id":"1","exp":` + itoa(testNow.Unix()+60)
	for _, tc := range []struct {
		name  string
		value string
		ok    bool
	}{
		{"objects to depth 16", strings.Repeat(`{"a":`, 14) + `{}` + strings.Repeat(`}`, 14), true},
		{"objects to depth 17", strings.Repeat(`{"a":`, 15) + `{}` + strings.Repeat(`}`, 15), false},
		{"arrays to depth 16", strings.Repeat(`[`, 15) + strings.Repeat(`]`, 15), true},
		{"arrays to depth 17", strings.Repeat(`[`, 16) + strings.Repeat(`]`, 16), false},
	} {
		_, err := c.Parse(hs256Raw(base+`,"x":`+tc.value+`}`), "")
		if tc.ok && err != nil {
			t.Errorf("%s: refused: %v", tc.name, err)
		}
		if !tc.ok && !errors.Is(err, tollgate.ErrTokenInvalid) {
			t.Errorf("%s: err = %v, want ErrTokenInvalid", tc.name, err)
		}
	}
}

// A numeric date must be a JSON number inside the years 0 to 9999: a
// number too large for time.Time would otherwise come out as another date
// (an nbf of 1e300 seconds as one in the past).
func TestParse_NumericDateOutOfRangeIsInvalid(t *testing.T) {
	c := newHMACCodec(t, nil)
	for _, tc := range []struct{ claim, value string }{
		{"nbf", "1e300"}, {"nbf", "1e19"}, {"exp", "1e300"}, {"exp", "253402300800"}, {"iat", "-1e300"},
		{"exp", `"` + itoa(testNow.Unix()+60) + `"`}, {"iat", "null"},
	} {
		m := map[string]string{"exp": itoa(testNow.Unix() + 60)}
		m[tc.claim] = tc.value
		payload := `{"token_type":"access","jti":"j","user_id":"1"`
		for k, v := range m {
			payload += `,"` + k + `":` + v
		}
		if _, err := c.Parse(hs256Raw(payload+`}`), ""); !errors.Is(err, tollgate.ErrTokenInvalid) {
			t.Errorf("%s = %s: err = %v, want ErrTokenInvalid", tc.claim, tc.value, err)
		}
	}
	// The last second of 9999 is a date; fractional seconds are read as golang-jwt reads them.
	for _, exp := range []string{"253402300799", itoa(testNow.Unix()+1) + ".5"} {
		payload := `{"token_type":"access","jti":"j","user_id":"1","exp":` + exp + `}`
		if _, err := c.Parse(hs256Raw(payload), ""); err != nil {
			t.Errorf("exp %s: %v", exp, err)
		}
	}
}

// Custom claims keep their JSON types as a MapClaims decoded with
// json.Number holds them, with another user-id claim too.
func TestParse_CustomClaimsKeepJSONTypes(t *testing.T) {
	for _, userIDClaim := range []string{"", "uid"} {
		c := newHMACCodec(t, func(cfg *token.Config) { cfg.UserIDClaim = userIDClaim })
		name := userIDClaim
		if name == "" {
			name = token.DefaultUserIDClaim
		}
		payload := `{"token_type":"access","jti":"j","exp":` + itoa(testNow.Unix()+60) + `,"` + name + `":12,` +
			`"n":1.50,"s":"x","b":true,"z":null,"a":[1,"y"],"o":{"k":2},"sub":"ignored"}`
		cl, err := c.Parse(hs256Raw(payload), "")
		if err != nil {
			t.Fatalf("user id claim %q: %v", name, err)
		}
		if cl.UserID != "12" {
			t.Errorf("user id claim %q: UserID = %q, want 12", name, cl.UserID)
		}
		want := map[string]any{"n": json.Number("1.50"), "s": "x", "b": true, "z": nil,
			"a": []any{json.Number("1"), "y"}, "o": map[string]any{"k": json.Number("2")}}
		if !reflect.DeepEqual(cl.Extra, want) {
			t.Errorf("user id claim %q: Extra = %#v, want %#v", name, cl.Extra, want)
		}
	}
}
