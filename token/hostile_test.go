package token_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/token"
	"github.com/tollgate/tollgate/token/tokentest"
)

// hostileFixture returns a codec verifying RS256 and ES256 with the keys of
// k (and HS256 with the test secret, so an HMAC algorithm is allowed and the
// algorithm-confusion cases meet a parser that does accept HS256), plus a
// retired key that is no longer in the set.
func hostileFixture(t testing.TB) (*token.Codec, tokentest.Keys) {
	t.Helper()
	k, ks, err := tokentest.Fixture(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	c, err := token.New(token.Config{Keys: ks, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	return c, k
}

func TestParse_RefusesHostileTokens(t *testing.T) {
	c, k := hostileFixture(t)
	claims := tokentest.Claims(testNow)
	// The corpus is only meaningful if its base tokens verify.
	for _, valid := range []string{tokentest.Valid(k, claims), tokentest.ValidEC(k, claims)} {
		if _, err := c.Parse(valid, tollgate.AccessToken); err != nil {
			t.Fatalf("the corpus's valid token is refused: %v", err)
		}
	}
	cases := tokentest.Hostile(k, claims)
	if len(cases) < 100 {
		t.Fatalf("corpus has %d cases; it shrank", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			cl, err := c.Parse(tc.Token, "")
			if err == nil {
				t.Fatalf("accepted: %+v", cl)
			}
			if code := tollgate.ErrorCode(err); code != tollgate.ETokenNotValid {
				t.Fatalf("code = %q, want %q (err %v)", code, tollgate.ETokenNotValid, err)
			}
		})
	}
}

func TestParse_RefusesDuplicateKeysEvenWhenIdentical(t *testing.T) {
	c := newHMACCodec(t, nil)
	payload := `{"token_type":"access","jti":"j","user_id":"1","user_id":"1","exp":` + itoa(testNow.Unix()+60) + `}`
	if _, err := c.Parse(hs256Raw(payload), ""); err == nil {
		t.Fatal("accepted a payload with a duplicate key")
	}
	// The same payload without the duplicate verifies: the refusal is the duplicate's.
	if _, err := c.Parse(hs256Raw(strings.Replace(payload, `"user_id":"1",`, "", 1)), ""); err != nil {
		t.Fatalf("control refused: %v", err)
	}
}

func TestParse_AcceptsModerateNesting(t *testing.T) {
	c := newHMACCodec(t, nil)
	payload := `{"token_type":"access","jti":"j","user_id":"1","exp":` + itoa(testNow.Unix()+60) +
		`,"ctx":{"org":{"teams":[{"id":1,"roles":["a","b"]}]}}}`
	if _, err := c.Parse(hs256Raw(payload), ""); err != nil {
		t.Fatalf("refused a custom claim nested four levels: %v", err)
	}
}
