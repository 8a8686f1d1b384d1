package middleware

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/token"
)

var (
	testKey = []byte("0123456789abcdef0123456789abcdef")
	t0      = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
)

// clock is a settable test clock.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func newCodec(t testing.TB, key []byte, now func() time.Time) *token.Codec {
	t.Helper()
	keys, err := token.NewHMACKeySet("HS256", key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := token.New(token.Config{Keys: keys, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// accessClaims are the claims of a Tollgate access token for user 42,
// issued at t0 for 15 minutes.
func accessClaims() *tollgate.Claims {
	return &tollgate.Claims{
		Type: tollgate.AccessToken, JTI: "0123456789abcdef0123456789abcdef", UserID: "42",
		SessionID: "sess-1", IssuedAt: t0, ExpiresAt: t0.Add(15 * time.Minute),
	}
}

func sign(t testing.TB, c *token.Codec, cl *tollgate.Claims) string {
	t.Helper()
	raw, err := c.Sign(cl)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// users is a UserLoader over a map.
type users struct {
	byID map[int64]*tollgate.User
	err  error
}

func (u *users) User(_ context.Context, id int64) (*tollgate.User, error) {
	if u.err != nil {
		return nil, u.err
	}
	if v, ok := u.byID[id]; ok {
		return v, nil
	}
	return nil, fmt.Errorf("user %d: %w", id, tollgate.ErrUserNotFound)
}

// revocations is a RevocationChecker over a set of revoked session ids.
type revocations struct {
	revoked map[string]bool
	err     error
	calls   int
}

func (r *revocations) SessionRevoked(_ context.Context, id string) (bool, error) {
	r.calls++
	return r.revoked[id], r.err
}

// seen is what the protected handler found in its request context.
type seen struct {
	called     bool
	claims     *tollgate.Claims
	hasClaims  bool
	user       *tollgate.User
	hasUser    bool
	userID     int64
	hasUserID  bool
	fromCookie bool
}

func protect(t *testing.T, cfg Config) (http.Handler, *seen) {
	t.Helper()
	mw, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &seen{}
	return mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		s.called = true
		s.claims, s.hasClaims = ClaimsFrom(ctx)
		s.user, s.hasUser = UserFrom(ctx)
		s.userID, s.hasUserID = UserIDFrom(ctx)
		s.fromCookie = TokenFromCookie(ctx)
		w.WriteHeader(http.StatusNoContent)
	})), s
}

// get sends GET / with the given Authorization header values (none when
// nil) and cookies.
func get(h http.Handler, authz []string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, v := range authz {
		r.Header.Add("Authorization", v)
	}
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func decodeBody(t *testing.T, w *httptest.ResponseRecorder) ErrorBody {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json", ct)
	}
	var b ErrorBody
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
		t.Fatalf("body %q: %v", w.Body.String(), err)
	}
	return b
}

const (
	challenge             = `Bearer realm="api"`
	challengeInvalidToken = `Bearer realm="api", error="invalid_token"`
	challengeBadRequest   = `Bearer realm="api", error="invalid_request"`
)

func TestMiddleware_RefusesWithSimpleJWTCodes(t *testing.T) {
	clk := &clock{now: t0.Add(time.Minute)}
	codec := newCodec(t, testKey, clk.Now)
	valid := sign(t, codec, accessClaims())
	refresh := accessClaims()
	refresh.Type = tollgate.RefreshToken
	otherKey := sign(t, newCodec(t, []byte("another-key-another-key-another-key"), clk.Now), accessClaims())
	expiredClaims := accessClaims()
	expiredClaims.ExpiresAt = clk.now // exp == now is expired

	tests := []struct {
		name          string
		authz         []string
		wantCode      string
		wantChallenge string
		wantMessage   string // SimpleJWT's messages[0].message, for token_not_valid
	}{
		{name: "no header", authz: nil, wantCode: tollgate.ENotAuthenticated, wantChallenge: challenge},
		{name: "empty header", authz: []string{""}, wantCode: tollgate.ENotAuthenticated, wantChallenge: challenge},
		{name: "blank header", authz: []string{" \t "}, wantCode: tollgate.ENotAuthenticated, wantChallenge: challenge},
		{name: "other scheme is ignored", authz: []string{"Basic dXNlcjpwYXNz"}, wantCode: tollgate.ENotAuthenticated, wantChallenge: challenge},
		{name: "scheme is case-sensitive", authz: []string{"bearer " + valid}, wantCode: tollgate.ENotAuthenticated, wantChallenge: challenge},
		{name: "scheme alone", authz: []string{"Bearer"}, wantCode: tollgate.EBadAuthHeader, wantChallenge: challengeBadRequest},
		{name: "scheme and spaces", authz: []string{"Bearer   "}, wantCode: tollgate.EBadAuthHeader, wantChallenge: challengeBadRequest},
		{name: "extra part", authz: []string{"Bearer a b"}, wantCode: tollgate.EBadAuthHeader, wantChallenge: challengeBadRequest},
		{name: "valid token and extra part", authz: []string{"Bearer " + valid + " x"}, wantCode: tollgate.EBadAuthHeader, wantChallenge: challengeBadRequest},
		{name: "two headers", authz: []string{"Bearer " + valid, "Bearer " + valid}, wantCode: tollgate.EBadAuthHeader, wantChallenge: challengeBadRequest},
		{name: "garbage token", authz: []string{"Bearer not.a.jwt"}, wantCode: tollgate.ETokenNotValid, wantChallenge: challengeInvalidToken, wantMessage: tollgate.ErrTokenInvalid.Message},
		{name: "no dots", authz: []string{"Bearer abc"}, wantCode: tollgate.ETokenNotValid, wantChallenge: challengeInvalidToken, wantMessage: tollgate.ErrTokenInvalid.Message},
		{name: "other key", authz: []string{"Bearer " + otherKey}, wantCode: tollgate.ETokenNotValid, wantChallenge: challengeInvalidToken, wantMessage: tollgate.ErrTokenInvalid.Message},
		{name: "tampered signature", authz: []string{"Bearer " + valid[:len(valid)-2] + "AA"}, wantCode: tollgate.ETokenNotValid, wantChallenge: challengeInvalidToken, wantMessage: tollgate.ErrTokenInvalid.Message},
		{name: "expired", authz: []string{"Bearer " + sign(t, codec, expiredClaims)}, wantCode: tollgate.ETokenNotValid, wantChallenge: challengeInvalidToken, wantMessage: tollgate.ErrTokenExpired.Message},
		{name: "refresh token", authz: []string{"Bearer " + sign(t, codec, refresh)}, wantCode: tollgate.ETokenNotValid, wantChallenge: challengeInvalidToken, wantMessage: tollgate.ErrWrongTokenType.Message},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, s := protect(t, Config{Tokens: codec})
			w := get(h, tt.authz)
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401; body %s", w.Code, w.Body)
			}
			if s.called {
				t.Fatal("the protected handler ran")
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tt.wantChallenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.wantChallenge)
			}
			b := decodeBody(t, w)
			if b.Code != tt.wantCode {
				t.Errorf("code = %q, want %q", b.Code, tt.wantCode)
			}
			if b.Detail == "" {
				t.Error("empty detail")
			}
			if tt.wantMessage == "" {
				if b.Messages != nil {
					t.Errorf("messages = %+v, want none", b.Messages)
				}
				return
			}
			want := []TokenMessage{{TokenClass: "AccessToken", TokenType: "access", Message: tt.wantMessage}}
			if len(b.Messages) != 1 || b.Messages[0] != want[0] {
				t.Errorf("messages = %+v, want %+v", b.Messages, want)
			}
		})
	}
}

func TestMiddleware_AcceptsValidAccessToken(t *testing.T) {
	clk := &clock{now: t0.Add(time.Minute)}
	codec := newCodec(t, testKey, clk.Now)
	valid := sign(t, codec, accessClaims())
	for _, authz := range []string{"Bearer " + valid, "  Bearer\t" + valid + "  "} {
		h, s := protect(t, Config{Tokens: codec})
		w := get(h, []string{authz})
		if w.Code != http.StatusNoContent || !s.called {
			t.Fatalf("%q: status = %d, called = %v; body %s", authz, w.Code, s.called, w.Body)
		}
		if w.Header().Get("WWW-Authenticate") != "" {
			t.Errorf("a challenge on success")
		}
	}
}

func TestMiddleware_TypedGettersStateless(t *testing.T) {
	clk := &clock{now: t0.Add(time.Minute)}
	codec := newCodec(t, testKey, clk.Now)
	h, s := protect(t, Config{Tokens: codec})
	w := get(h, []string{"Bearer " + sign(t, codec, accessClaims())})
	if w.Code != http.StatusNoContent {
		t.Fatalf("status = %d; body %s", w.Code, w.Body)
	}
	if !s.hasClaims || s.claims.JTI != accessClaims().JTI || s.claims.SessionID != "sess-1" || s.claims.Type != tollgate.AccessToken {
		t.Errorf("ClaimsFrom = %+v, %v", s.claims, s.hasClaims)
	}
	if !s.hasUserID || s.userID != 42 {
		t.Errorf("UserIDFrom = %d, %v; want 42, true", s.userID, s.hasUserID)
	}
	if s.hasUser || s.user != nil {
		t.Errorf("UserFrom without a UserLoader = %+v, %v; want nil, false", s.user, s.hasUser)
	}
	if s.fromCookie {
		t.Error("TokenFromCookie is true for a header token")
	}
}

func TestMiddleware_StatelessNonIntegerUserIDIsOnlyInClaims(t *testing.T) {
	clk := &clock{now: t0.Add(time.Minute)}
	codec := newCodec(t, testKey, clk.Now)
	cl := accessClaims()
	cl.UserID = "alice"
	h, s := protect(t, Config{Tokens: codec})
	w := get(h, []string{"Bearer " + sign(t, codec, cl)})
	if w.Code != http.StatusNoContent {
		t.Fatalf("status = %d; body %s", w.Code, w.Body)
	}
	if !s.hasClaims || s.claims.UserID != "alice" {
		t.Errorf("claims.UserID = %q, want alice", s.claims.UserID)
	}
	if s.hasUserID {
		t.Errorf("UserIDFrom = %d, true; want false", s.userID)
	}
}

func TestMiddleware_UsersMode(t *testing.T) {
	clk := &clock{now: t0.Add(time.Minute)}
	codec := newCodec(t, testKey, clk.Now)
	valid := sign(t, codec, accessClaims())
	nonInt := accessClaims()
	nonInt.UserID = "alice"
	alice := &tollgate.User{ID: 42, Username: "alice", IsActive: true}
	tests := []struct {
		name          string
		users         *users
		token         string
		wantStatus    int
		wantCode      string
		wantChallenge string
	}{
		{name: "active user", users: &users{byID: map[int64]*tollgate.User{42: alice}}, token: valid, wantStatus: http.StatusNoContent},
		{name: "deleted user", users: &users{byID: map[int64]*tollgate.User{}}, token: valid, wantStatus: 401, wantCode: tollgate.EUserNotFound, wantChallenge: challengeInvalidToken},
		{name: "inactive user", users: &users{byID: map[int64]*tollgate.User{42: {ID: 42, Username: "alice"}}}, token: valid, wantStatus: 401, wantCode: tollgate.EUserInactive, wantChallenge: challengeInvalidToken},
		{name: "non-integer user id", users: &users{byID: map[int64]*tollgate.User{42: alice}}, token: sign(t, codec, nonInt), wantStatus: 401, wantCode: tollgate.ETokenNotValid, wantChallenge: challengeInvalidToken},
		{name: "store down", users: &users{err: fmt.Errorf("query: %w", tollgate.ErrUnavailable)}, token: valid, wantStatus: 503, wantCode: tollgate.EUnavailable},
		{name: "store timeout", users: &users{err: fmt.Errorf("query: %w", context.DeadlineExceeded)}, token: valid, wantStatus: 503, wantCode: tollgate.EUnavailable},
		{name: "unexpected loader error", users: &users{err: errors.New("boom")}, token: valid, wantStatus: 500, wantCode: tollgate.EInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, s := protect(t, Config{Tokens: codec, Users: tt.users})
			w := get(h, []string{"Bearer " + tt.token})
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tt.wantStatus, w.Body)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tt.wantChallenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.wantChallenge)
			}
			if tt.wantStatus == http.StatusNoContent {
				if !s.hasUser || s.user != alice || !s.hasUserID || s.userID != 42 {
					t.Errorf("UserFrom = %+v, %v; UserIDFrom = %d, %v", s.user, s.hasUser, s.userID, s.hasUserID)
				}
				return
			}
			if s.called {
				t.Fatal("the protected handler ran")
			}
			if b := decodeBody(t, w); b.Code != tt.wantCode {
				t.Errorf("code = %q, want %q", b.Code, tt.wantCode)
			}
			if strings.Contains(w.Body.String(), "boom") {
				t.Error("the internal error leaked into the body")
			}
		})
	}
}

func TestMiddleware_RevokedSessionIsRefused(t *testing.T) {
	clk := &clock{now: t0.Add(time.Minute)}
	codec := newCodec(t, testKey, clk.Now)
	noSession := accessClaims()
	noSession.SessionID = ""
	tests := []struct {
		name       string
		rev        *revocations
		claims     *tollgate.Claims
		wantStatus int
		wantCode   string
		wantCalls  int
	}{
		{name: "live session", rev: &revocations{}, claims: accessClaims(), wantStatus: http.StatusNoContent, wantCalls: 1},
		{name: "revoked session", rev: &revocations{revoked: map[string]bool{"sess-1": true}}, claims: accessClaims(), wantStatus: 401, wantCode: tollgate.ETokenRevoked, wantCalls: 1},
		{name: "checker fails", rev: &revocations{err: errors.New("redis gone")}, claims: accessClaims(), wantStatus: 500, wantCode: tollgate.EInternal, wantCalls: 1},
		{name: "token of no session (SimpleJWT)", rev: &revocations{revoked: map[string]bool{"": true}}, claims: noSession, wantStatus: http.StatusNoContent, wantCalls: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, s := protect(t, Config{Tokens: codec, Revocations: tt.rev})
			w := get(h, []string{"Bearer " + sign(t, codec, tt.claims)})
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tt.wantStatus, w.Body)
			}
			if tt.rev.calls != tt.wantCalls {
				t.Errorf("SessionRevoked called %d times, want %d", tt.rev.calls, tt.wantCalls)
			}
			if tt.wantStatus == http.StatusNoContent {
				return
			}
			if s.called {
				t.Fatal("the protected handler ran")
			}
			if b := decodeBody(t, w); b.Code != tt.wantCode {
				t.Errorf("code = %q, want %q", b.Code, tt.wantCode)
			}
			wantChallenge := ""
			if tt.wantStatus == 401 {
				wantChallenge = challengeInvalidToken
			}
			if got := w.Header().Get("WWW-Authenticate"); got != wantChallenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, wantChallenge)
			}
		})
	}
}

func TestMiddleware_OptionalPassesAnonymousRequestsOnly(t *testing.T) {
	clk := &clock{now: t0.Add(time.Minute)}
	codec := newCodec(t, testKey, clk.Now)
	tests := []struct {
		name       string
		authz      []string
		wantStatus int
		wantClaims bool
	}{
		{name: "no header", authz: nil, wantStatus: http.StatusNoContent},
		{name: "other scheme", authz: []string{"Basic eDp5"}, wantStatus: http.StatusNoContent},
		{name: "valid token", authz: []string{"Bearer " + sign(t, codec, accessClaims())}, wantStatus: http.StatusNoContent, wantClaims: true},
		{name: "bad token", authz: []string{"Bearer x.y.z"}, wantStatus: http.StatusUnauthorized},
		{name: "bad header", authz: []string{"Bearer"}, wantStatus: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, s := protect(t, Config{Tokens: codec, Optional: true})
			w := get(h, tt.authz)
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tt.wantStatus, w.Body)
			}
			if s.hasClaims != tt.wantClaims || s.hasUserID != tt.wantClaims {
				t.Errorf("ClaimsFrom ok = %v, UserIDFrom ok = %v, want %v", s.hasClaims, s.hasUserID, tt.wantClaims)
			}
		})
	}
}

func TestMiddleware_CookieIsReadWhenNoHeader(t *testing.T) {
	clk := &clock{now: t0.Add(time.Minute)}
	codec := newCodec(t, testKey, clk.Now)
	fromCookie := accessClaims()
	fromCookie.UserID = "7"
	cookie := &http.Cookie{Name: "access", Value: sign(t, codec, fromCookie)}

	h, s := protect(t, Config{Tokens: codec, CookieName: "access"})
	if w := get(h, nil, cookie); w.Code != http.StatusNoContent || s.userID != 7 || !s.fromCookie {
		t.Fatalf("cookie only: status = %d, user %d, fromCookie %v", w.Code, s.userID, s.fromCookie)
	}

	h, s = protect(t, Config{Tokens: codec, CookieName: "access"})
	if w := get(h, []string{"Bearer " + sign(t, codec, accessClaims())}, cookie); w.Code != http.StatusNoContent || s.userID != 42 || s.fromCookie {
		t.Fatalf("header and cookie: status = %d, user %d, fromCookie %v; the header must win", w.Code, s.userID, s.fromCookie)
	}

	h, _ = protect(t, Config{Tokens: codec, CookieName: "access"})
	w := get(h, nil, &http.Cookie{Name: "access", Value: "x.y.z"})
	if w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") != challengeInvalidToken {
		t.Fatalf("bad cookie: status = %d, challenge %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}

	h, _ = protect(t, Config{Tokens: codec})
	if w := get(h, nil, cookie); w.Code != http.StatusUnauthorized {
		t.Fatalf("cookie without CookieName: status = %d, want 401", w.Code)
	}
}

func TestMiddleware_CustomHeaderNameAndTypes(t *testing.T) {
	clk := &clock{now: t0.Add(time.Minute)}
	codec := newCodec(t, testKey, clk.Now)
	valid := sign(t, codec, accessClaims())
	h, _ := protect(t, Config{Tokens: codec, HeaderName: "x-access-token", HeaderTypes: []string{"JWT", "Bearer"}, Realm: "billing"})
	send := func(name, value string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set(name, value)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for _, v := range []string{"JWT " + valid, "Bearer " + valid} {
		if w := send("X-Access-Token", v); w.Code != http.StatusNoContent {
			t.Errorf("X-Access-Token: %q: status = %d", v[:5], w.Code)
		}
	}
	w := send("Authorization", "JWT "+valid)
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("Authorization header honoured while HeaderName is X-Access-Token: status %d", w.Code)
	}
	if got, want := w.Header().Get("WWW-Authenticate"), `JWT realm="billing"`; got != want {
		t.Errorf("WWW-Authenticate = %q, want %q", got, want)
	}
}

func TestNew_RejectsUnusableConfig(t *testing.T) {
	codec := newCodec(t, testKey, nil)
	for name, cfg := range map[string]Config{
		"no codec":             {},
		"header type w/ space": {Tokens: codec, HeaderTypes: []string{"Bear er"}},
		"empty header type":    {Tokens: codec, HeaderTypes: []string{""}},
		"header name w/ colon": {Tokens: codec, HeaderName: "Authorization:"},
		"quote in realm":       {Tokens: codec, Realm: `a"b`},
		"newline in realm":     {Tokens: codec, Realm: "a\nb"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

func TestSplitFields_MatchesPythonSplit(t *testing.T) {
	tests := []struct {
		in            string
		first, second string
		n             int
	}{
		{"", "", "", 0},
		{" \t\r\n\v\f", "", "", 0},
		{"Bearer", "Bearer", "", 1},
		{"Bearer tok", "Bearer", "tok", 2},
		{"\tBearer \t tok \n", "Bearer", "tok", 2},
		{"Bearer a b", "Bearer", "a", 3},
		{"a b c d e", "a", "b", 3},
	}
	for _, tt := range tests {
		first, second, n := splitFields(tt.in)
		if first != tt.first || second != tt.second || n != tt.n {
			t.Errorf("splitFields(%q) = %q, %q, %d; want %q, %q, %d", tt.in, first, second, n, tt.first, tt.second, tt.n)
		}
	}
}
