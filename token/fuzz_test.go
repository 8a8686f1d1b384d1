package token_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tollgate/tollgate"
)

// FuzzParse feeds arbitrary strings to an HS256 codec. It must never panic,
// every refusal must carry the token_not_valid code (a 401, never a 500),
// and anything it accepts must carry a valid HMAC of the test secret over
// exactly its first two segments, checked here with the bare signing method.
// The seed corpus is in testdata/fuzz/FuzzParse (valid tokens and the
// hostile corpus, HMAC-signed); run with: go test -fuzz FuzzParse ./token/
func FuzzParse(f *testing.F) {
	c := newHMACCodec(f, nil)
	f.Add(hs256Raw(`{"token_type":"access","jti":"j","user_id":"1","exp":` + itoa(testNow.Unix()+60) + `}`))
	f.Add(hs256Raw(`{"token_type":"refresh","jti":"j","user_id":7,"sid":"s","exp":` + itoa(testNow.Unix()+60) + `}`))
	f.Fuzz(func(t *testing.T, raw string) {
		cl, err := c.Parse(raw, "")
		if err != nil {
			if code := tollgate.ErrorCode(err); code != tollgate.ETokenNotValid {
				t.Fatalf("refusal with code %q, want %q: %v", code, tollgate.ETokenNotValid, err)
			}
			return
		}
		parts := strings.Split(raw, ".")
		if len(parts) != 3 {
			t.Fatalf("accepted a token of %d parts", len(parts))
		}
		sig, err := base64.RawURLEncoding.Strict().DecodeString(parts[2])
		if err != nil {
			t.Fatalf("accepted a signature that is not canonical base64url: %v", err)
		}
		if base64.RawURLEncoding.EncodeToString(sig) != parts[2] {
			t.Fatalf("accepted a non-canonical signature encoding %q", parts[2])
		}
		var header map[string]any
		hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
		if err := json.Unmarshal(hb, &header); err != nil || header["alg"] != "HS256" {
			t.Fatalf("accepted header %s", hb)
		}
		if err := jwt.SigningMethodHS256.Verify(parts[0]+"."+parts[1], sig, testSecret); err != nil {
			t.Fatalf("accepted a token not signed by the key: %v", err)
		}
		if cl.UserID == "" || cl.JTI == "" || cl.ExpiresAt.IsZero() || !cl.ExpiresAt.After(testNow) {
			t.Fatalf("accepted incomplete or expired claims %+v", cl)
		}
	})
}
