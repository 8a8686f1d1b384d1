package http_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/tollgate/tollgate"
	tghttp "github.com/tollgate/tollgate/http"
)

func TestAuthHeader_ServerEndpointsUseConfiguredNameAndTypes(t *testing.T) {
	e := newEnv(t, func(o *envOptions) {
		o.http.HeaderName = "X-Auth-Token"
		o.http.HeaderTypes = []string{"JWT", "Token"}
	})
	e.createUser("alice", "", alicePW)
	access, _ := e.login("alice", alicePW)

	for _, scheme := range []string{"JWT", "Token"} {
		if res := e.call(http.MethodGet, "user/", nil, withHeader("X-Auth-Token", scheme+" "+access)); res.status != http.StatusOK {
			t.Errorf("X-Auth-Token: %s <access>: status %d, body %s", scheme, res.status, res.body)
		}
	}

	// The default header and scheme are no longer credentials at all.
	res := e.call(http.MethodGet, "user/", nil, withBearer(access))
	wantError(t, res, http.StatusUnauthorized, tollgate.ENotAuthenticated)
	if got := res.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, `JWT realm=`) {
		t.Errorf("challenge = %q; want the first configured scheme, JWT", got)
	}
	res = e.call(http.MethodGet, "user/", nil, withHeader("X-Auth-Token", "Bearer "+access))
	wantError(t, res, http.StatusUnauthorized, tollgate.ENotAuthenticated)

	// An accepted scheme with a malformed value is a bad header.
	res = e.call(http.MethodGet, "user/", nil, withHeader("X-Auth-Token", "JWT "+access+" extra"))
	wantError(t, res, http.StatusUnauthorized, tollgate.EBadAuthHeader)

	// Every authenticated endpoint reads the same header.
	if res := e.call(http.MethodGet, "sessions/", nil, withHeader("X-Auth-Token", "JWT "+access)); res.status != http.StatusOK {
		t.Errorf("sessions/ with the configured header: status %d, body %s", res.status, res.body)
	}
	if res := e.call(http.MethodPost, "logout/all/", nil, withHeader("X-Auth-Token", "JWT "+access)); res.status != http.StatusOK {
		t.Errorf("logout/all/ with the configured header: status %d, body %s", res.status, res.body)
	}
}

func TestNewHandler_RejectsBadHeaderSettings(t *testing.T) {
	e := newEnv(t)
	for name, cfg := range map[string]tghttp.Config{
		"header name with a space": {Service: e.svc, HeaderName: "X Auth"},
		"header type with a colon": {Service: e.svc, HeaderTypes: []string{"Bearer:"}},
	} {
		if _, err := tghttp.NewHandler(cfg); err == nil {
			t.Errorf("%s: NewHandler accepted it", name)
		}
	}
}

// fakeRevocations is a RevocationChecker that says every session in
// revoked is revoked, and remembers what it was asked.
type fakeRevocations struct {
	mu      sync.Mutex
	revoked map[string]bool
	asked   []string
}

func (f *fakeRevocations) SessionRevoked(_ context.Context, sid string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, sid)
	return f.revoked[sid], nil
}

func (f *fakeRevocations) questions() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.asked...)
}

func TestAccessRevocation_AsksTheConfiguredChecker(t *testing.T) {
	fake := &fakeRevocations{revoked: map[string]bool{}}
	e := newEnv(t, func(o *envOptions) {
		o.http.AccessRevocation = true
		o.http.Revocations = fake
	})
	e.createUser("alice", "", alicePW)
	access, _ := e.login("alice", alicePW)
	claims, err := e.svc.Tokens().Parse(access, tollgate.AccessToken)
	if err != nil {
		t.Fatal(err)
	}

	if res := e.call(http.MethodGet, "user/", nil, withBearer(access)); res.status != http.StatusOK {
		t.Fatalf("live session: status %d, body %s", res.status, res.body)
	}
	if q := fake.questions(); len(q) != 1 || q[0] != claims.SessionID {
		t.Fatalf("checker was asked %q; want the token's session %q once", q, claims.SessionID)
	}

	// The checker's word is final even though the store still has the
	// session live: the server does not go around it.
	fake.mu.Lock()
	fake.revoked[claims.SessionID] = true
	fake.mu.Unlock()
	wantError(t, e.call(http.MethodGet, "user/", nil, withBearer(access)), http.StatusUnauthorized, tollgate.ETokenRevoked)
}

func TestAccessRevocation_CheckerUnusedWhenRevocationIsOff(t *testing.T) {
	fake := &fakeRevocations{revoked: map[string]bool{}}
	e := newEnv(t, func(o *envOptions) { o.http.Revocations = fake })
	e.createUser("alice", "", alicePW)
	access, _ := e.login("alice", alicePW)
	if res := e.call(http.MethodGet, "user/", nil, withBearer(access)); res.status != http.StatusOK {
		t.Fatalf("status %d, body %s", res.status, res.body)
	}
	if q := fake.questions(); len(q) != 0 {
		t.Errorf("checker asked %q with ACCESS_TOKEN_REVOCATION off", q)
	}
}
