package http_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/token/tokentest"
)

// hostileEnv runs the server with the keys the hostile corpus is built
// against: RS256 (signing) and ES256 under their kids, and an HS256 secret
// too, so the algorithm-confusion cases meet a parser that does accept
// HS256. A key the server no longer holds stands for a retired one.
func hostileEnv(t *testing.T) (*env, tokentest.Keys) {
	t.Helper()
	k, ks, err := tokentest.Fixture(testKey)
	if err != nil {
		t.Fatal(err)
	}
	return newEnv(t, func(o *envOptions) { o.keys = ks }), k
}

// headerSafe reports whether tok can travel in a header value at all: a
// CR, LF or NUL cannot (net/http refuses to send it, and a server would
// see a broken request before any of Tollgate's code).
func headerSafe(tok string) bool {
	return !strings.ContainsAny(tok, "\r\n\x00")
}

// TestHostileTokens_RefusedByEveryEndpointAndChangeNothing posts every
// token of the hostile corpus to token/verify/, token/refresh/ and logout/,
// and sends it as a Bearer token to user/. Refresh-typed tokens carry the
// real session's id and current jti, so a token the parser wrongly accepted
// would rotate or revoke the real session: afterwards that session must
// still refresh, and no revocation may have been recorded.
func TestHostileTokens_RefusedByEveryEndpointAndChangeNothing(t *testing.T) {
	e, k := hostileEnv(t)
	alice := e.createUser("alice", "", alicePW)
	access, refresh := e.login("alice", alicePW)
	rc, err := e.svc.Tokens().Parse(refresh, tollgate.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}

	now := e.clock.Now()
	accessClaims := tokentest.Claims(now)
	accessClaims["user_id"] = strconv.FormatInt(alice.ID, 10)
	refreshClaims := tokentest.Claims(now)
	refreshClaims["user_id"] = strconv.FormatInt(alice.ID, 10)
	refreshClaims["token_type"] = "refresh"
	refreshClaims["sid"] = rc.SessionID
	refreshClaims["jti"] = rc.JTI

	// The corpus is meaningful only if its base tokens get through.
	if res := e.call(http.MethodGet, "user/", nil, withBearer(tokentest.Valid(k, accessClaims))); res.status != http.StatusOK {
		t.Fatalf("the corpus's valid access token is refused by user/: %d %s", res.status, res.body)
	}
	for _, valid := range []string{tokentest.ValidEC(k, accessClaims), tokentest.Valid(k, refreshClaims)} {
		if res := e.call(http.MethodPost, "token/verify/", map[string]string{"token": valid}); res.status != http.StatusOK {
			t.Fatalf("the corpus's valid token is refused by token/verify/: %d %s", res.status, res.body)
		}
	}

	accessCases := tokentest.Hostile(k, accessClaims)
	refreshCases := tokentest.Hostile(k, refreshClaims)
	if len(accessCases) < 100 || len(refreshCases) != len(accessCases) {
		t.Fatalf("corpus has %d and %d cases; it shrank", len(accessCases), len(refreshCases))
	}

	// refused checks a body endpoint's answer: 401 token_not_valid, or, for
	// an empty string, DRF's 400 field error (blank is not a token).
	refused := func(t *testing.T, what, tok string, res response) {
		t.Helper()
		if tok == "" && res.status == http.StatusBadRequest {
			return
		}
		if res.status != http.StatusUnauthorized || res.code(t) != tollgate.ETokenNotValid {
			t.Errorf("%s: %d %s; want 401 token_not_valid", what, res.status, res.body)
		}
	}
	for i := range accessCases {
		acc, ref := accessCases[i], refreshCases[i]
		if strings.TrimSpace(acc.Token) != acc.Token && strings.TrimSpace(acc.Token) == tokentest.Valid(k, accessClaims) {
			// White space around a valid token ("space in token"): the
			// token fields are DRF CharFields, trimmed before use, and
			// the header is split on white space as SimpleJWT does, so
			// over HTTP this is the valid token itself, not a variant of
			// it. The codec's own test refuses it.
			continue
		}
		t.Run(acc.Name, func(t *testing.T) {
			refused(t, "verify (access)", acc.Token, e.call(http.MethodPost, "token/verify/", map[string]string{"token": acc.Token}))
			refused(t, "verify (refresh)", ref.Token, e.call(http.MethodPost, "token/verify/", map[string]string{"token": ref.Token}))
			refused(t, "refresh", ref.Token, e.call(http.MethodPost, "token/refresh/", map[string]string{"refresh": ref.Token}))
			refused(t, "logout", ref.Token, e.call(http.MethodPost, "logout/", map[string]string{"refresh": ref.Token}))
			if !headerSafe(acc.Token) {
				return
			}
			res := e.call(http.MethodGet, "user/", nil, withBearer(acc.Token))
			switch c := res.code(t); {
			case res.status != http.StatusUnauthorized:
				t.Errorf("user/: %d %s; want 401", res.status, res.body)
			case c != tollgate.ETokenNotValid && c != tollgate.ENotAuthenticated && c != tollgate.EBadAuthHeader:
				t.Errorf("user/: code %q; want token_not_valid (or a header error)", c)
			case res.header.Get("WWW-Authenticate") == "":
				t.Error("user/: 401 without WWW-Authenticate")
			}
		})
	}

	// Nothing changed: no session was revoked or rotated, and the real
	// tokens still work.
	for _, typ := range []string{tollgate.EventFamilyRevoked, tollgate.EventRefreshTokenReused, tollgate.EventLogout} {
		if n := e.events.count(typ); n != 0 {
			t.Errorf("%d %s events after hostile tokens; want none", n, typ)
		}
	}
	if res := e.call(http.MethodGet, "user/", nil, withBearer(access)); res.status != http.StatusOK {
		t.Errorf("the real access token after the corpus: %d %s", res.status, res.body)
	}
	e.clock.Advance(time.Second)
	e.mustRefresh(refresh)
}
