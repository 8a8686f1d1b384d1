package http_test

import (
	"context"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tollgate/tollgate"
	tghttp "github.com/tollgate/tollgate/http"
	"github.com/tollgate/tollgate/inmem"
)

const (
	alicePW = "alice-correct-horse-1"
	bobPW   = "bob-battery-staple-22"
)

func TestObtain_ReturnsPairThatIsNotCached(t *testing.T) {
	e := newEnv(t)
	e.createUser("alice", "alice@example.com", alicePW)

	res := e.call(http.MethodPost, "token/", map[string]string{"username": "alice", "password": alicePW})
	if res.status != http.StatusOK {
		t.Fatalf("status %d, body %s", res.status, res.body)
	}
	if cc := res.header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	m := res.json(t)
	if len(m) != 2 || m["access"] == nil || m["refresh"] == nil {
		t.Fatalf("body %s, want exactly access and refresh", res.body)
	}
	e.secret(m["access"].(string), m["refresh"].(string))
	if _, err := e.svc.Verify(context.Background(), m["access"].(string)); err != nil {
		t.Errorf("issued access token does not verify: %v", err)
	}
	if e.events.count(tollgate.EventLoginSucceeded) != 1 {
		t.Errorf("want one %s event", tollgate.EventLoginSucceeded)
	}
}

func TestObtain_AcceptsFormEncodedBodies(t *testing.T) {
	e := newEnv(t)
	e.createUser("alice", "", alicePW)
	res := e.postForm("token/", url.Values{"username": {"alice"}, "password": {alicePW}})
	if res.status != http.StatusOK {
		t.Fatalf("form login: status %d, body %s", res.status, res.body)
	}
	refresh := res.json(t)["refresh"].(string)
	e.secret(refresh, res.json(t)["access"].(string))
	res = e.postForm("token/refresh/", url.Values{"refresh": {refresh}})
	if res.status != http.StatusOK {
		t.Fatalf("form refresh: status %d, body %s", res.status, res.body)
	}
	e.secret(res.json(t)["refresh"].(string), res.json(t)["access"].(string))
}

func TestObtain_LoginFieldIsEmailWhenConfigured(t *testing.T) {
	e := newEnv(t, func(o *envOptions) { o.svc.LoginField = tollgate.LoginByEmail })
	e.createUser("alice", "alice@example.com", alicePW)

	res := e.call(http.MethodPost, "token/", map[string]string{"username": "alice", "password": alicePW})
	if want := map[string]any{"email": []any{"This field is required."}}; !reflect.DeepEqual(res.json(t), want) {
		t.Errorf("username where email is the login field: body %s, want %v", res.body, want)
	}
	res = e.call(http.MethodPost, "token/", map[string]string{"email": "ALICE@example.com", "password": alicePW})
	if res.status != http.StatusOK {
		t.Fatalf("email login: status %d, body %s", res.status, res.body)
	}
	e.secret(res.json(t)["access"].(string), res.json(t)["refresh"].(string))
}

func TestObtain_BadCredentialsAreIndistinguishable(t *testing.T) {
	e := newEnv(t)
	e.createUser("alice", "", alicePW)
	inactive := e.createUser("carol", "", "carol-password-333")
	if err := e.svc.SetUserActive(context.Background(), inactive.ID, false); err != nil {
		t.Fatal(err)
	}
	attempts := map[string]map[string]string{
		"unknown user":   {"username": "mallory", "password": alicePW},
		"wrong password": {"username": "alice", "password": "not-alices-password"},
		"inactive user":  {"username": "carol", "password": "carol-password-333"},
	}
	e.secret("not-alices-password")
	var first *response
	for name, body := range attempts {
		res := e.call(http.MethodPost, "token/", body)
		wantError(t, res, http.StatusUnauthorized, tollgate.ENoActiveAccount)
		if first == nil {
			first = &res
			continue
		}
		if string(res.body) != string(first.body) {
			t.Errorf("%s: body %s differs from %s", name, res.body, first.body)
		}
	}
	if n := e.events.count(tollgate.EventLoginFailed); n != 3 {
		t.Errorf("%d login_failed events, want 3", n)
	}
}

// createDjangoUser stores a user whose password hash is Django's
// pbkdf2_sha256 (at a cheap iteration count), as `users import` would.
func createDjangoUser(t *testing.T, e *env, username, pw string) (*tollgate.User, string) {
	t.Helper()
	e.secret(pw)
	salt := "Q2xhc3NpY1NhbHQx"
	key, err := pbkdf2.Key(sha256.New, pw, []byte(salt), 1000, 32)
	if err != nil {
		t.Fatal(err)
	}
	djangoHash := "pbkdf2_sha256$1000$" + salt + "$" + base64.StdEncoding.EncodeToString(key)
	u := &tollgate.User{Username: username, PasswordHash: djangoHash, IsActive: true, CreatedAt: start}
	if err := e.store.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return u, djangoHash
}

func TestObtain_KeepPasswordHashesLeavesDjangoHashAlone(t *testing.T) {
	e := newEnv(t, func(o *envOptions) { o.svc.KeepPasswordHashes = true })
	const pw = "django-era-password-9"
	u, djangoHash := createDjangoUser(t, e, "dj", pw)
	e.login("dj", pw)
	got, err := e.store.UserByID(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.PasswordHash != djangoHash {
		t.Errorf("hash after login = %.20q..., want the Django hash kept", got.PasswordHash)
	}
	if n := e.events.count(tollgate.EventPasswordHashUpgraded); n != 0 {
		t.Errorf("%d %s events, want none", n, tollgate.EventPasswordHashUpgraded)
	}
}

func TestObtain_DjangoHashIsUpgradedToArgon2id(t *testing.T) {
	e := newEnv(t)
	const pw = "django-era-password-9"
	u, _ := createDjangoUser(t, e, "dj", pw)

	e.login("dj", pw)

	got, err := e.store.UserByID(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got.PasswordHash, "argon2$argon2id$") {
		t.Errorf("hash after login = %.20q..., want argon2id", got.PasswordHash)
	}
	if e.events.count(tollgate.EventPasswordHashUpgraded) != 1 {
		t.Errorf("want one %s event", tollgate.EventPasswordHashUpgraded)
	}
	e.login("dj", pw) // the upgraded hash verifies too
}

func TestObtain_SixthLoginFromOneIPInAMinuteIsThrottled(t *testing.T) {
	e := newEnv(t, func(o *envOptions) {
		o.http.LoginLimiter = inmem.NewLimiter(5, time.Minute, inmem.WithClock(o.clock.Now))
		o.http.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	e.createUser("alice", "", alicePW)
	fromIP := withHeader("X-Forwarded-For", "198.51.100.7")
	for i := 0; i < 5; i++ {
		e.login("alice", alicePW, fromIP)
	}
	res := e.call(http.MethodPost, "token/", map[string]string{"username": "alice", "password": alicePW}, fromIP)
	wantError(t, res, http.StatusTooManyRequests, tollgate.ERateLimited)
	retry, err := strconv.Atoi(res.header.Get("Retry-After"))
	if err != nil || retry < 1 || retry > 60 {
		t.Fatalf("Retry-After = %q, want whole seconds in 1..60", res.header.Get("Retry-After"))
	}
	if want := "Request was throttled. Expected available in " + strconv.Itoa(retry) + " seconds."; res.json(t)["detail"] != want {
		t.Errorf("detail = %q, want %q", res.json(t)["detail"], want)
	}
	var limited []tollgate.Event
	for _, ev := range e.events.all() {
		if ev.Type == tollgate.EventRateLimited {
			limited = append(limited, ev)
		}
	}
	if len(limited) != 1 || limited[0].IP != "198.51.100.7" {
		t.Errorf("rate_limited events = %+v, want one for 198.51.100.7", limited)
	}

	// Another client behind the same proxy is not affected.
	e.login("alice", alicePW, withHeader("X-Forwarded-For", "198.51.100.8"))
	// And the first is let in again once the wait is over.
	e.clock.Advance(time.Duration(retry) * time.Second)
	e.login("alice", alicePW, fromIP)
}

func TestObtain_AccountLockoutIsThrottledAndSurvivesRestart(t *testing.T) {
	e := newEnv(t, func(o *envOptions) {
		o.svc.LoginFailureLimit = 3
		o.svc.LoginFailureWindow = 15 * time.Minute
		o.svc.LockoutDuration = 10 * time.Minute
	})
	e.createUser("alice", "", alicePW)
	e.secret("wrong-password-000")
	for i := 0; i < 3; i++ {
		res := e.call(http.MethodPost, "token/", map[string]string{"username": "alice", "password": "wrong-password-000"})
		wantError(t, res, http.StatusUnauthorized, tollgate.ENoActiveAccount)
	}
	if e.events.count(tollgate.EventAccountLocked) != 1 {
		t.Errorf("want one %s event", tollgate.EventAccountLocked)
	}
	locked := func() {
		t.Helper()
		res := e.call(http.MethodPost, "token/", map[string]string{"username": "alice", "password": alicePW})
		wantError(t, res, http.StatusTooManyRequests, tollgate.ERateLimited)
		if res.header.Get("Retry-After") == "" {
			t.Error("no Retry-After on a locked account")
		}
	}
	locked() // even with the right password
	e.restart()
	locked()
	e.clock.Advance(10 * time.Minute)
	e.login("alice", alicePW)
}

func TestRefresh_RotatesAndRejectsTheOldToken(t *testing.T) {
	e := newEnv(t)
	e.createUser("alice", "", alicePW)
	_, r1 := e.login("alice", alicePW)
	e.clock.Advance(time.Second)

	res := e.refresh(r1)
	if res.status != http.StatusOK {
		t.Fatalf("status %d, body %s", res.status, res.body)
	}
	if cc := res.header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	m := res.json(t)
	r2, _ := m["refresh"].(string)
	if m["access"] == nil || r2 == "" || r2 == r1 {
		t.Fatalf("body %s: want a new access and a new refresh token", res.body)
	}
	wantError(t, e.refresh(r1), http.StatusUnauthorized, tollgate.ETokenNotValid)
}

func TestRefresh_ReusedTokenRevokesFamily(t *testing.T) {
	e := newEnv(t)
	e.createUser("alice", "", alicePW)
	_, r1 := e.login("alice", alicePW)
	_, r2 := e.mustRefresh(r1)

	wantError(t, e.refresh(r1), http.StatusUnauthorized, tollgate.ETokenNotValid)
	if e.events.count(tollgate.EventRefreshTokenReused) != 1 {
		t.Errorf("want one %s event, got %+v", tollgate.EventRefreshTokenReused, e.events.all())
	}
	if e.events.count(tollgate.EventFamilyRevoked) != 1 {
		t.Errorf("want one %s event", tollgate.EventFamilyRevoked)
	}
	// The successor, held by the victim or the thief, is dead too.
	wantError(t, e.refresh(r2), http.StatusUnauthorized, tollgate.ETokenNotValid)
	wantError(t, e.call(http.MethodPost, "token/verify/", map[string]string{"token": r2}), http.StatusUnauthorized, tollgate.ETokenNotValid)
}

func TestRefresh_WithoutRotationReturnsAccessOnly(t *testing.T) {
	e := newEnv(t, func(o *envOptions) { o.svc.RotateRefreshTokens = false })
	e.createUser("alice", "", alicePW)
	_, r1 := e.login("alice", alicePW)
	for i := 0; i < 2; i++ { // the same refresh token keeps working
		res := e.refresh(r1)
		if res.status != http.StatusOK {
			t.Fatalf("status %d, body %s", res.status, res.body)
		}
		m := res.json(t)
		if _, has := m["refresh"]; has || m["access"] == nil {
			t.Fatalf("body %s: want access only", res.body)
		}
	}
}

func TestRefresh_ConcurrentRefreshesOfOneTokenExactlyOneWins(t *testing.T) {
	e := newEnv(t)
	e.createUser("alice", "", alicePW)
	_, r1 := e.login("alice", alicePW)

	const n = 50
	statuses := make([]int, n)
	var wg sync.WaitGroup
	startGate := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-startGate
			statuses[i] = e.refresh(r1).status
		}()
	}
	close(startGate)
	wg.Wait()
	ok := 0
	for _, s := range statuses {
		switch s {
		case http.StatusOK:
			ok++
		case http.StatusUnauthorized:
		default:
			t.Errorf("unexpected status %d", s)
		}
	}
	if ok != 1 {
		t.Fatalf("%d refreshes succeeded, want exactly 1 (statuses %v)", ok, statuses)
	}
}

func TestRefresh_GraceWindowGivesReplaysTheSameSuccessor(t *testing.T) {
	e := newEnv(t, func(o *envOptions) { o.svc.RefreshGraceWindow = 10 * time.Second })
	e.createUser("alice", "", alicePW)
	_, r1 := e.login("alice", alicePW)
	e.clock.Advance(time.Second)

	const n = 20
	got := make([]string, n)
	var wg sync.WaitGroup
	startGate := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-startGate
			res := e.refresh(r1)
			if res.status != http.StatusOK {
				t.Errorf("replay inside the grace window: status %d, body %s", res.status, res.body)
				return
			}
			got[i], _ = res.json(t)["refresh"].(string)
		}()
	}
	close(startGate)
	wg.Wait()
	for i := range got {
		if got[i] == "" || got[i] != got[0] {
			t.Fatalf("replays received different successors: %d distinct", len(distinct(got)))
		}
	}
	successor := got[0]

	e.clock.Advance(9 * time.Second) // still inside: 9s after the rotation
	if res := e.refresh(r1); res.status != http.StatusOK || res.json(t)["refresh"] != successor {
		t.Fatalf("replay at the end of the window: status %d, same successor %v", res.status, res.json(t)["refresh"] == successor)
	}
	e.clock.Advance(time.Second) // the window is over
	wantError(t, e.refresh(r1), http.StatusUnauthorized, tollgate.ETokenNotValid)
	if e.events.count(tollgate.EventRefreshTokenReused) != 1 {
		t.Errorf("want one %s event after the window", tollgate.EventRefreshTokenReused)
	}
	wantError(t, e.refresh(successor), http.StatusUnauthorized, tollgate.ETokenNotValid)
}

func distinct(ss []string) map[string]bool {
	m := map[string]bool{}
	for _, s := range ss {
		m[s] = true
	}
	return m
}

func TestRefresh_AbsoluteSessionLifetimeCapsRotation(t *testing.T) {
	e := newEnv(t, func(o *envOptions) {
		o.svc.RefreshTokenLifetime = 24 * time.Hour
		o.svc.SessionMaxLifetime = 2 * time.Hour
	})
	e.createUser("alice", "", alicePW)
	_, r := e.login("alice", alicePW)
	for i := 0; i < 3; i++ { // 0:50, 1:40, 1:59:59 after login
		e.clock.Advance(50 * time.Minute)
		if i == 2 {
			e.clock.Advance(-50*time.Minute + 19*time.Minute + 59*time.Second)
		}
		_, r = e.mustRefresh(r)
	}
	e.clock.Advance(time.Second) // exactly two hours after login
	wantError(t, e.refresh(r), http.StatusUnauthorized, tollgate.ETokenNotValid)
}

func TestExpiry_ExpEqualToNowIsExpired(t *testing.T) {
	e := newEnv(t, func(o *envOptions) { o.svc.AccessTokenLifetime = 5 * time.Minute })
	e.createUser("alice", "", alicePW)
	access, _ := e.login("alice", alicePW)

	e.clock.Advance(5*time.Minute - time.Second)
	if res := e.call(http.MethodGet, "user/", nil, withBearer(access)); res.status != http.StatusOK {
		t.Fatalf("a second before exp: status %d, body %s", res.status, res.body)
	}
	e.clock.Advance(time.Second) // now == exp
	wantError(t, e.call(http.MethodGet, "user/", nil, withBearer(access)), http.StatusUnauthorized, tollgate.ETokenNotValid)
	wantError(t, e.call(http.MethodPost, "token/verify/", map[string]string{"token": access}), http.StatusUnauthorized, tollgate.ETokenNotValid)
}

func TestExpiry_LeewayShiftsNow(t *testing.T) {
	e := newEnv(t, func(o *envOptions) {
		o.svc.AccessTokenLifetime = 5 * time.Minute
		o.svc.RefreshTokenLifetime = time.Hour
		o.leeway = 30 * time.Second
	})
	e.createUser("alice", "", alicePW)
	access, refresh := e.login("alice", alicePW)

	e.clock.Advance(5*time.Minute + 29*time.Second) // past exp, inside the leeway
	if res := e.call(http.MethodPost, "token/verify/", map[string]string{"token": access}); res.status != http.StatusOK {
		t.Fatalf("inside leeway: status %d, body %s", res.status, res.body)
	}
	e.clock.Advance(time.Second) // now - leeway == exp
	wantError(t, e.call(http.MethodPost, "token/verify/", map[string]string{"token": access}), http.StatusUnauthorized, tollgate.ETokenNotValid)

	e.clock.Advance(time.Hour - 5*time.Minute - time.Second) // refresh exp + 29s
	if res := e.call(http.MethodPost, "token/verify/", map[string]string{"token": refresh}); res.status != http.StatusOK {
		t.Fatalf("refresh token inside leeway: status %d, body %s", res.status, res.body)
	}
	e.clock.Advance(time.Second)
	wantError(t, e.refresh(refresh), http.StatusUnauthorized, tollgate.ETokenNotValid)
}

// signClaims signs arbitrary claims with the test key through golang-jwt.
func signClaims(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(testKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTokens_MissingRequiredClaimsAre401(t *testing.T) {
	e := newEnv(t)
	u := e.createUser("alice", "", alicePW)
	for _, missing := range []string{"exp", "jti", "token_type"} {
		for _, typ := range []string{"access", "refresh"} {
			claims := jwt.MapClaims{
				"token_type": typ, "exp": start.Add(time.Hour).Unix(), "iat": start.Unix(),
				"jti": "0123456789abcdef0123456789abcdef", "user_id": strconv.FormatInt(u.ID, 10),
				"sid": "00000000000000000000000000000000",
			}
			delete(claims, missing)
			tok := signClaims(t, claims)
			e.secret(tok)
			t.Run("no "+missing+" in "+typ, func(t *testing.T) {
				wantError(t, e.call(http.MethodPost, "token/verify/", map[string]string{"token": tok}), http.StatusUnauthorized, tollgate.ETokenNotValid)
				wantError(t, e.refresh(tok), http.StatusUnauthorized, tollgate.ETokenNotValid)
				wantError(t, e.call(http.MethodPost, "logout/", map[string]string{"refresh": tok}), http.StatusUnauthorized, tollgate.ETokenNotValid)
				wantError(t, e.call(http.MethodGet, "user/", nil, withBearer(tok)), http.StatusUnauthorized, tollgate.ETokenNotValid)
			})
		}
	}
}

func TestTokens_WrongTypeIsRejected(t *testing.T) {
	e := newEnv(t)
	e.createUser("alice", "", alicePW)
	access, refresh := e.login("alice", alicePW)

	wantError(t, e.refresh(access), http.StatusUnauthorized, tollgate.ETokenNotValid)
	wantError(t, e.call(http.MethodPost, "logout/", map[string]string{"refresh": access}), http.StatusUnauthorized, tollgate.ETokenNotValid)
	for _, ep := range []struct{ method, path string }{
		{http.MethodGet, "user/"}, {http.MethodGet, "sessions/"}, {http.MethodPost, "logout/all/"},
	} {
		res := e.call(ep.method, ep.path, nil, withBearer(refresh))
		wantError(t, res, http.StatusUnauthorized, tollgate.ETokenNotValid)
		if !strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: WWW-Authenticate = %q", ep.path, res.header.Get("WWW-Authenticate"))
		}
	}
	// The refresh token was refused, not consumed.
	e.mustRefresh(refresh)
}

func TestUser_DeactivatedMidSession(t *testing.T) {
	e := newEnv(t)
	u := e.createUser("alice", "", alicePW)
	access, refresh := e.login("alice", alicePW)
	// Deactivated behind the service's back (an admin tool on the table).
	if err := e.store.SetUserActive(context.Background(), u.ID, false); err != nil {
		t.Fatal(err)
	}
	wantError(t, e.call(http.MethodGet, "user/", nil, withBearer(access)), http.StatusUnauthorized, tollgate.EUserInactive)
	wantError(t, e.refresh(refresh), http.StatusUnauthorized, tollgate.ENoActiveAccount)
}

func TestUser_DeletedMidSession(t *testing.T) {
	e := newEnv(t)
	u := e.createUser("alice", "", alicePW)
	access, refresh := e.login("alice", alicePW)
	if err := e.store.DeleteUser(context.Background(), u.ID); err != nil {
		t.Fatal(err)
	}
	wantError(t, e.call(http.MethodGet, "user/", nil, withBearer(access)), http.StatusUnauthorized, tollgate.EUserNotFound)
	res := e.refresh(refresh)
	if res.status != http.StatusUnauthorized {
		t.Fatalf("refresh of a deleted user: status %d, body %s", res.status, res.body)
	}
	// SPEC: a refresh for a user deleted since is no_active_account,
	// never a 404 or 500, even though the store deleted its sessions too.
	if c := res.code(t); c != tollgate.ENoActiveAccount {
		t.Errorf("code = %q, want %q", c, tollgate.ENoActiveAccount)
	}
}

func TestUser_ReturnsProfile(t *testing.T) {
	e := newEnv(t)
	u := e.createUser("alice", "alice@example.com", alicePW)
	access, _ := e.login("alice", alicePW)
	res := e.call(http.MethodGet, "user/", nil, withBearer(access))
	if res.status != http.StatusOK {
		t.Fatalf("status %d, body %s", res.status, res.body)
	}
	m := res.json(t)
	want := map[string]any{
		"id": float64(u.ID), "pk": float64(u.ID), "username": "alice", "email": "alice@example.com",
		"is_staff": false, "last_login": start.Format(time.RFC3339), "date_joined": start.Format(time.RFC3339),
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("user = %v,\nwant %v", m, want)
	}
	wantError(t, e.call(http.MethodGet, "user/", nil), http.StatusUnauthorized, tollgate.ENotAuthenticated)
}

func TestVerify_AcceptsBothTypesAndRefusesBlacklisted(t *testing.T) {
	e := newEnv(t)
	e.createUser("alice", "", alicePW)
	access, refresh := e.login("alice", alicePW)
	for _, tok := range []string{access, refresh} {
		res := e.call(http.MethodPost, "token/verify/", map[string]string{"token": tok})
		if res.status != http.StatusOK || string(res.body) != "{}\n" {
			t.Fatalf("verify: status %d, body %q", res.status, res.body)
		}
	}
	if res := e.call(http.MethodPost, "logout/", map[string]string{"refresh": refresh}); res.status != http.StatusOK {
		t.Fatalf("logout: %d %s", res.status, res.body)
	}
	wantError(t, e.call(http.MethodPost, "token/verify/", map[string]string{"token": refresh}), http.StatusUnauthorized, tollgate.ETokenNotValid)
	wantError(t, e.call(http.MethodPost, "token/verify/", map[string]string{"token": "a.b.c"}), http.StatusUnauthorized, tollgate.ETokenNotValid)
}

func TestLogout_ThenRefreshIs401(t *testing.T) {
	e := newEnv(t)
	e.createUser("alice", "", alicePW)
	_, refresh := e.login("alice", alicePW)
	res := e.call(http.MethodPost, "logout/", map[string]string{"refresh": refresh})
	if res.status != http.StatusOK || string(res.body) != "{}\n" {
		t.Fatalf("logout: status %d, body %q", res.status, res.body)
	}
	wantError(t, e.refresh(refresh), http.StatusUnauthorized, tollgate.ETokenNotValid)
	wantError(t, e.call(http.MethodPost, "logout/", map[string]string{"refresh": refresh}), http.StatusUnauthorized, tollgate.ETokenNotValid)
	if e.events.count(tollgate.EventLogout) != 1 {
		t.Errorf("want one %s event", tollgate.EventLogout)
	}
}

func TestLogoutAll_RevokesEverySession(t *testing.T) {
	e := newEnv(t)
	e.createUser("alice", "", alicePW)
	e.createUser("bob", "", bobPW)
	var refreshes []string
	var access string
	for i := 0; i < 3; i++ {
		a, r := e.login("alice", alicePW)
		access, refreshes = a, append(refreshes, r)
	}
	_, bobRefresh := e.login("bob", bobPW)

	wantError(t, e.call(http.MethodPost, "logout/all/", nil), http.StatusUnauthorized, tollgate.ENotAuthenticated)
	res := e.call(http.MethodPost, "logout/all/", nil, withBearer(access))
	if res.status != http.StatusOK || string(res.body) != "{}\n" {
		t.Fatalf("logout/all: status %d, body %q", res.status, res.body)
	}
	for _, r := range refreshes {
		wantError(t, e.refresh(r), http.StatusUnauthorized, tollgate.ETokenNotValid)
	}
	e.mustRefresh(bobRefresh) // other users keep their sessions
	if e.events.count(tollgate.EventLogoutAll) != 1 || e.events.count(tollgate.EventFamilyRevoked) != 3 {
		t.Errorf("events: logout_all %d (want 1), family_revoked %d (want 3)", e.events.count(tollgate.EventLogoutAll), e.events.count(tollgate.EventFamilyRevoked))
	}
}

func TestAccessRevocation_RevokedSessionRejectsItsAccessTokens(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run("revocation "+strconv.FormatBool(on), func(t *testing.T) {
			e := newEnv(t, func(o *envOptions) { o.http.AccessRevocation = on })
			e.createUser("alice", "", alicePW)
			access, refresh := e.login("alice", alicePW)
			if res := e.call(http.MethodPost, "logout/", map[string]string{"refresh": refresh}); res.status != http.StatusOK {
				t.Fatal(res.status)
			}
			res := e.call(http.MethodGet, "user/", nil, withBearer(access))
			verify := e.call(http.MethodPost, "token/verify/", map[string]string{"token": access})
			if on {
				wantError(t, res, http.StatusUnauthorized, tollgate.ETokenRevoked)
				// verify introspects: it must not call the token good either.
				wantError(t, verify, http.StatusUnauthorized, tollgate.ETokenNotValid)
			} else {
				if res.status != http.StatusOK {
					t.Errorf("without revocation the access token lives until exp: status %d", res.status)
				}
				if verify.status != http.StatusOK {
					t.Errorf("without revocation verify accepts the access token until exp: status %d", verify.status)
				}
			}
		})
	}
}

func TestPasswordChange_KeepsCurrentSessionAndRevokesOthers(t *testing.T) {
	e := newEnv(t)
	e.createUser("alice", "", alicePW)
	accessA, refreshA := e.login("alice", alicePW)
	_, refreshB := e.login("alice", alicePW)
	const newPW = "alice-new-password-77"
	e.secret(newPW)

	res := e.call(http.MethodPost, "password/change/", map[string]string{"old_password": "wrong-old-password", "new_password": newPW}, withBearer(accessA))
	if res.status != http.StatusBadRequest || res.json(t)["old_password"] == nil {
		t.Fatalf("wrong old password: status %d, body %s; want 400 with an old_password error", res.status, res.body)
	}
	res = e.call(http.MethodPost, "password/change/", map[string]string{"old_password": alicePW, "new_password": "short"}, withBearer(accessA))
	if res.status != http.StatusBadRequest || res.json(t)["new_password"] == nil {
		t.Fatalf("too short: status %d, body %s; want 400 with a new_password error", res.status, res.body)
	}
	res = e.call(http.MethodPost, "password/change/", map[string]string{"old_password": alicePW}, withBearer(accessA))
	if want := map[string]any{"new_password": []any{"This field is required."}}; !reflect.DeepEqual(res.json(t), want) {
		t.Fatalf("missing field: body %s", res.body)
	}

	res = e.call(http.MethodPost, "password/change/", map[string]string{"old_password": alicePW, "new_password": newPW}, withBearer(accessA))
	if res.status != http.StatusOK || res.json(t)["detail"] != "New password has been saved." {
		t.Fatalf("change: status %d, body %s", res.status, res.body)
	}
	e.mustRefresh(refreshA)
	wantError(t, e.refresh(refreshB), http.StatusUnauthorized, tollgate.ETokenNotValid)
	wantError(t, e.call(http.MethodPost, "token/", map[string]string{"username": "alice", "password": alicePW}), http.StatusUnauthorized, tollgate.ENoActiveAccount)
	e.login("alice", newPW)
	if e.events.count(tollgate.EventPasswordChanged) != 1 {
		t.Errorf("want one %s event", tollgate.EventPasswordChanged)
	}
}

func TestSessions_ListAndRevokeOwnOnly(t *testing.T) {
	e := newEnv(t)
	e.createUser("alice", "", alicePW)
	e.createUser("bob", "", bobPW)
	accessA, _ := e.login("alice", alicePW, withHeader("User-Agent", "phone"))
	e.clock.Advance(time.Minute)
	_, refreshB := e.login("alice", alicePW, withHeader("User-Agent", "laptop"))
	accessBob, _ := e.login("bob", bobPW)

	list := func() []map[string]any {
		t.Helper()
		res := e.call(http.MethodGet, "sessions/", nil, withBearer(accessA))
		if res.status != http.StatusOK {
			t.Fatalf("sessions: status %d, body %s", res.status, res.body)
		}
		var out []map[string]any
		if err := json.Unmarshal(res.body, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	got := list()
	if len(got) != 2 {
		t.Fatalf("%d sessions, want 2: %v", len(got), got)
	}
	for _, k := range []string{"id", "created", "last_used", "expires", "user_agent", "ip", "current"} {
		if _, ok := got[0][k]; !ok {
			t.Errorf("session lacks %q: %v", k, got[0])
		}
	}
	if got[0]["user_agent"] != "laptop" || got[0]["current"] != false || got[1]["current"] != true || got[1]["ip"] != "127.0.0.1" {
		t.Errorf("sessions = %v; want newest first, the phone's current", got)
	}
	laptop := got[0]["id"].(string)

	wantError(t, e.call(http.MethodDelete, "sessions/"+laptop+"/", nil, withBearer(accessBob)), http.StatusNotFound, tollgate.ENotFound)
	wantError(t, e.call(http.MethodDelete, "sessions/ffffffffffffffffffffffffffffffff/", nil, withBearer(accessA)), http.StatusNotFound, tollgate.ENotFound)
	wantError(t, e.call(http.MethodDelete, "sessions/"+strings.Repeat("a", 300)+"/", nil, withBearer(accessA)), http.StatusNotFound, tollgate.ENotFound)
	e.mustRefresh(refreshB) // bob's attempt did nothing

	res := e.call(http.MethodDelete, "sessions/"+laptop+"/", nil, withBearer(accessA))
	if res.status != http.StatusNoContent || len(res.body) != 0 {
		t.Fatalf("revoke: status %d, body %q", res.status, res.body)
	}
	if got := list(); len(got) != 1 || got[0]["current"] != true {
		t.Errorf("after revoke: %v", got)
	}
	wantError(t, e.call(http.MethodDelete, "sessions/"+laptop+"/", nil, withBearer(accessA)), http.StatusNotFound, tollgate.ENotFound)
}

func TestRestart_KeepsUsersAndRevocations(t *testing.T) {
	e := newEnv(t)
	e.createUser("alice", "", alicePW)
	_, loggedOut := e.login("alice", alicePW)
	_, rotated := e.login("alice", alicePW)
	_, live := e.mustRefresh(rotated)
	if res := e.call(http.MethodPost, "logout/", map[string]string{"refresh": loggedOut}); res.status != http.StatusOK {
		t.Fatal(res.status)
	}

	e.restart()

	e.login("alice", alicePW)
	wantError(t, e.refresh(loggedOut), http.StatusUnauthorized, tollgate.ETokenNotValid)
	// A rotated token is still recognised as reuse after the restart.
	wantError(t, e.refresh(rotated), http.StatusUnauthorized, tollgate.ETokenNotValid)
	if e.events.count(tollgate.EventRefreshTokenReused) != 1 {
		t.Errorf("want the replay after restart detected as reuse")
	}
	wantError(t, e.refresh(live), http.StatusUnauthorized, tollgate.ETokenNotValid)
}

func TestHealthAndReadiness(t *testing.T) {
	e := newEnv(t)
	if res := e.call(http.MethodGet, "/healthz", nil); res.status != http.StatusOK {
		t.Errorf("healthz: %d", res.status)
	}
	if res := e.call(http.MethodGet, "/readyz", nil); res.status != http.StatusOK {
		t.Errorf("readyz: %d %s", res.status, res.body)
	}
	e.store.Close() // the database goes away
	res := e.call(http.MethodGet, "/readyz", nil)
	wantError(t, res, http.StatusServiceUnavailable, tollgate.EUnavailable)
	if res := e.call(http.MethodGet, "/healthz", nil); res.status != http.StatusOK {
		t.Errorf("healthz must not depend on the database: %d", res.status)
	}
}

func TestExtraRoutesAndMetrics(t *testing.T) {
	ok := func(body string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(body)) })
	}
	e := newEnv(t, func(o *envOptions) {
		o.http.Metrics = ok("metrics")
		o.http.Extra = map[string]http.Handler{"/.well-known/jwks.json": ok("jwks")}
	})
	for path, want := range map[string]string{"/metrics": "metrics", "/.well-known/jwks.json": "jwks"} {
		if res := e.call(http.MethodGet, path, nil); res.status != http.StatusOK || string(res.body) != want {
			t.Errorf("GET %s: %d %q", path, res.status, res.body)
		}
	}
	wantError(t, e.call(http.MethodPost, "/.well-known/jwks.json", "{}"), http.StatusMethodNotAllowed, "method_not_allowed")
}

func TestNewHandler_RejectsBadConfig(t *testing.T) {
	e := newEnv(t)
	for name, cfg := range map[string]tghttp.Config{
		"no service":     {},
		"relative path":  {Service: e.svc, Prefix: "api/"},
		"route conflict": {Service: e.svc, Extra: map[string]http.Handler{"GET /healthz": http.NotFoundHandler()}},
	} {
		if _, err := tghttp.NewHandler(cfg); err == nil {
			t.Errorf("%s: NewHandler accepted it", name)
		}
	}
}

func TestPrefix_IsConfigurable(t *testing.T) {
	e := newEnv(t, func(o *envOptions) { o.http.Prefix = "/auth/v2" })
	e.createUser("alice", "", alicePW)
	if res := e.call(http.MethodPost, "/auth/v2/token/", map[string]string{"username": "alice", "password": alicePW}); res.status != http.StatusOK {
		t.Fatalf("status %d", res.status)
	} else {
		e.secret(res.json(t)["access"].(string), res.json(t)["refresh"].(string))
	}
	wantError(t, e.call(http.MethodPost, "token/", map[string]string{"username": "alice", "password": alicePW}), http.StatusNotFound, tollgate.ENotFound)
}

func TestRefreshEndpoints_AreThrottledPerIP(t *testing.T) {
	e := newEnv(t, func(o *envOptions) {
		o.http.RefreshLimiter = inmem.NewLimiter(3, time.Minute, inmem.WithClock(o.clock.Now))
	})
	e.createUser("alice", "", alicePW)
	_, r1 := e.login("alice", alicePW) // logins do not count against it
	_, r2 := e.mustRefresh(r1)
	if res := e.call(http.MethodPost, "token/verify/", map[string]string{"token": r2}); res.status != http.StatusOK {
		t.Fatal(res.status)
	}
	if res := e.call(http.MethodPost, "logout/", map[string]string{"refresh": r2}); res.status != http.StatusOK {
		t.Fatal(res.status)
	}
	for _, path := range []string{"token/refresh/", "token/verify/", "logout/"} {
		res := e.call(http.MethodPost, path, map[string]string{"refresh": r2, "token": r2})
		wantError(t, res, http.StatusTooManyRequests, tollgate.ERateLimited)
		if res.header.Get("Retry-After") == "" {
			t.Errorf("%s: no Retry-After", path)
		}
	}
	if n := e.events.count(tollgate.EventRateLimited); n != 3 {
		t.Errorf("%d rate_limited events, want 3", n)
	}
}

func TestPanickingRoute_IsA500NotADroppedConnection(t *testing.T) {
	e := newEnv(t, func(o *envOptions) {
		o.http.Extra = map[string]http.Handler{"GET /boom": http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })}
	})
	w := httptest.NewRecorder()
	e.handler.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/boom", nil))
	if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), `"code":"internal"`) {
		t.Errorf("status %d, body %s", w.Code, w.Body)
	}
	if !strings.Contains(e.logs.String(), "handler panic") {
		t.Error("the panic was not logged")
	}
}

func TestMissingTrailingSlash_RedirectsKeepingTheMethod(t *testing.T) {
	e := newEnv(t)
	w := httptest.NewRecorder()
	e.handler.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/api/auth/token", strings.NewReader("{}")))
	if w.Code != http.StatusTemporaryRedirect || w.Header().Get("Location") != "/api/auth/token/" {
		t.Errorf("status %d, Location %q; want 307 to /api/auth/token/", w.Code, w.Header().Get("Location"))
	}
}

func TestUser_DeactivatedThroughServiceRevokesSessions(t *testing.T) {
	e := newEnv(t)
	u := e.createUser("alice", "", alicePW)
	access, refresh := e.login("alice", alicePW)
	if err := e.svc.SetUserActive(context.Background(), u.ID, false); err != nil {
		t.Fatal(err)
	}
	wantError(t, e.call(http.MethodGet, "user/", nil, withBearer(access)), http.StatusUnauthorized, tollgate.EUserInactive)
	wantError(t, e.refresh(refresh), http.StatusUnauthorized, tollgate.ENoActiveAccount)
	wantError(t, e.call(http.MethodPost, "token/", map[string]string{"username": "alice", "password": alicePW}), http.StatusUnauthorized, tollgate.ENoActiveAccount)
}
