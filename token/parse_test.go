package token_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/token/tokentest"
)

// A forgery is refused on its signature, before its payload is decoded: a
// payload that is not even JSON reports the signature, not the JSON.
func TestParse_SignatureIsCheckedBeforeThePayload(t *testing.T) {
	c := newHMACCodec(t, nil)
	for _, payload := range []string{`{"a":1,"a":2}`, `not json`, strings.Repeat("[", 100)} {
		other := tokentest.Sign(jwt.SigningMethodHS256, []byte("another secret that is 32 bytes!"), `{"alg":"HS256","typ":"JWT"}`, payload)
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

// The happy path allocates little: golang-jwt's HMAC verification (7 on
// Go 1.26), the signature and payload bytes, and the claims. The bound has
// a little room for the library; 200 allocations per parse was the cost
// of the encoding/json walk and MapClaims.
func TestParse_AllocatesLittle(t *testing.T) {
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
	if allocs > 14 {
		t.Fatalf("Parse allocates %.0f times, want at most 14", allocs)
	}
}
