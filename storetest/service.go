package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/internal/testclock"
	"github.com/tollgate/tollgate/password"
	"github.com/tollgate/tollgate/token"
)

// RunService runs the core's rules (tollgate.Service: login, refresh
// rotation, reuse detection, verification, logout, revocation, password
// change, user activation, flush) against stores made by newStore, without
// HTTP in between. Each case gets its own fresh, empty store.
//
// The service runs over an HS256 key set, argon2id at test-only cost and a
// clock the cases move by hand: nothing sleeps. Because HS256 is
// deterministic, two refresh tokens minted from the same session row are
// byte-for-byte equal, which is how the grace-window cases tell "the same
// successor" from "a second live branch".
func RunService(t *testing.T, newStore func(t *testing.T) tollgate.Store) {
	t.Helper()
	groups := []struct {
		name  string
		cases []serviceCase
	}{
		{"Login", loginCases},
		{"Refresh", refreshCases},
		{"Verify", verifyCases},
		{"Revocation", revocationCases},
		{"Users", serviceUserCases},
		{"Flush", flushCases},
		{"CrossInstance", crossInstanceCases},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) { c.run(t, newHarness(t, newStore(t))) })
			}
		})
	}
}

type serviceCase struct {
	name string
	run  func(t *testing.T, h *harness)
}

// Settings of the harness's default service. Short lifetimes keep the
// clock arithmetic in the cases readable.
const (
	accessLifetime  = 5 * time.Minute
	refreshLifetime = time.Hour
	failureLimit    = 3
	failureWindow   = 15 * time.Minute
	lockout         = 15 * time.Minute
	graceWindow     = 30 * time.Second
)

// hmacSecret is the test signing key (HS256 needs at least 32 bytes).
var hmacSecret = []byte("storetest-hmac-secret-0123456789abcdef")

// djangoPassword and djangoHash are a vector produced by Django's own
// PBKDF2PasswordHasher (password/testdata/django_vectors.json, 1000
// iterations), so the upgrade case does not rely on our reading of the format.
const (
	djangoPassword = "correct horse battery staple"
	djangoHash     = "pbkdf2_sha256$1000$OFn1QE5vxPgBQ2UYmoYrE9$kQnLoRA0NKEW4TMKFoDt85wu/IOd9/I099isRjQZObU="
)

// recorder is an EventSink that keeps every event, for the cases to assert on.
type recorder struct {
	mu     sync.Mutex
	events []tollgate.Event
}

func (r *recorder) Record(_ context.Context, e tollgate.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// of returns the recorded events of type typ, in order.
func (r *recorder) of(typ string) []tollgate.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []tollgate.Event
	for _, e := range r.events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func (r *recorder) types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.events))
	for i, e := range r.events {
		out[i] = e.Type
	}
	return out
}

// harness is one case's world: a store, a clock, an event recorder, and the
// codec and hasher every service of the case shares.
type harness struct {
	t      *testing.T
	store  tollgate.Store
	clock  *testclock.Clock // shared by the service and the token codec
	events *recorder
	codec  *token.Codec
	hasher *password.Hasher
	// svc is the default service; cases needing other settings make more
	// with service.
	svc *tollgate.Service
}

func newHarness(t *testing.T, store tollgate.Store) *harness {
	t.Helper()
	h := &harness{t: t, store: store, clock: testclock.New(t0), events: &recorder{}}
	keys, err := token.NewHMACKeySet("HS256", hmacSecret)
	if err != nil {
		t.Fatal(err)
	}
	if h.codec, err = token.New(token.Config{Keys: keys, Now: h.clock.Now}); err != nil {
		t.Fatal(err)
	}
	if h.hasher, err = password.New(password.InsecureTestParams(), nil); err != nil {
		t.Fatal(err)
	}
	h.svc = h.service(nil)
	return h
}

// service returns a new Service over the harness's store (as a second server
// instance, or the same one restarted, would be), with the harness's
// defaults changed by mod (may be nil).
func (h *harness) service(mod func(*tollgate.Config)) *tollgate.Service {
	h.t.Helper()
	return h.serviceOver(h.store, mod)
}

func (h *harness) serviceOver(store tollgate.Store, mod func(*tollgate.Config)) *tollgate.Service {
	h.t.Helper()
	cfg := tollgate.DefaultConfig()
	cfg.AccessTokenLifetime = accessLifetime
	cfg.RefreshTokenLifetime = refreshLifetime
	cfg.SessionMaxLifetime = 0
	cfg.LoginFailureLimit = failureLimit
	cfg.LoginFailureWindow = failureWindow
	cfg.LockoutDuration = lockout
	cfg.Events = h.events
	cfg.Now = h.clock.Now
	if mod != nil {
		mod(&cfg)
	}
	svc, err := tollgate.NewService(store, h.codec, h.hasher, cfg)
	if err != nil {
		h.t.Fatalf("NewService: %v", err)
	}
	return svc
}

// passwordOf is the password the harness gives each user it creates.
func passwordOf(username string) string { return "pw-" + username + "-correct-horse" }

// info is the request metadata of the harness's calls.
var info = tollgate.RequestInfo{IP: "203.0.113.7", UserAgent: "storetest/1.0"}

// user creates an active user through the service.
func (h *harness) user(username string) *tollgate.User {
	h.t.Helper()
	u, err := h.svc.CreateUser(h.t.Context(), username, username+"@example.com", passwordOf(username), false)
	if err != nil {
		h.t.Fatalf("CreateUser(%q): %v", username, err)
	}
	return u
}

// login logs the user in through svc and fails the test when it cannot.
func (h *harness) login(svc *tollgate.Service, username string) *tollgate.Pair {
	h.t.Helper()
	p, _, err := svc.Login(h.t.Context(), username, passwordOf(username), info)
	if err != nil {
		h.t.Fatalf("Login(%q): %v", username, err)
	}
	if p.Access == "" || p.Refresh == "" || p.SessionID == "" {
		h.t.Fatalf("Login(%q) = %+v; want an access token, a refresh token and a session", username, p)
	}
	return p
}

// refresh refreshes through svc and fails the test when it cannot.
func (h *harness) refresh(svc *tollgate.Service, raw string) *tollgate.Pair {
	h.t.Helper()
	p, err := svc.Refresh(h.t.Context(), raw, info)
	if err != nil {
		h.t.Fatalf("Refresh: %v", err)
	}
	return p
}

// claims parses a token the harness's services minted.
func (h *harness) claims(raw string) *tollgate.Claims {
	h.t.Helper()
	c, err := h.codec.Parse(raw, "")
	if err != nil {
		h.t.Fatalf("parsing a token the service minted: %v", err)
	}
	return c
}

// session reads a session straight from the store.
func (h *harness) session(id string) *tollgate.Session {
	h.t.Helper()
	return mustSession(h.t, h.store, id)
}

// wantErr fails unless errors.Is(err, want).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: err = %v, want %v", what, err, want)
	}
}

// wantFieldError fails unless err is an EInvalid *Error naming field.
func wantFieldError(t *testing.T, what string, err error, field string) {
	t.Helper()
	var e *tollgate.Error
	if !errors.As(err, &e) || e.Code != tollgate.EInvalid || len(e.Fields[field]) == 0 {
		t.Errorf("%s: err = %#v, want %s with a message for field %q", what, err, tollgate.EInvalid, field)
	}
}

// wantRevoked fails unless the session is revoked for reason.
func (h *harness) wantRevoked(id, reason string) {
	h.t.Helper()
	s := h.session(id)
	if !s.Revoked() || s.RevokeReason != reason {
		h.t.Errorf("session %s: revoked at %v for %q; want revoked for %q", id, s.RevokedAt, s.RevokeReason, reason)
	}
}

// wantLive fails if the session is revoked.
func (h *harness) wantLive(id string) {
	h.t.Helper()
	if s := h.session(id); s.Revoked() {
		h.t.Errorf("session %s was revoked (%q); want it live", id, s.RevokeReason)
	}
}

// wantEvents fails unless exactly n events of typ were recorded for session
// sid ("" matches any session).
func (h *harness) wantEvents(r *recorder, typ, sid string, n int) []tollgate.Event {
	h.t.Helper()
	var got []tollgate.Event
	for _, e := range r.of(typ) {
		if sid == "" || e.SessionID == sid {
			got = append(got, e)
		}
	}
	if len(got) != n {
		h.t.Errorf("%d %s events for session %q, want %d; all events: %v", len(got), typ, sid, n, r.types())
	}
	return got
}

// ---------------------------------------------------------------- login

var loginCases = []serviceCase{
	{"Login_SuccessOpensSessionWithRequestInfo", func(t *testing.T, h *harness) {
		u := h.user("alice")
		h.clock.Advance(time.Minute)
		p, got, err := h.svc.Login(t.Context(), "alice", passwordOf("alice"), info)
		if err != nil {
			t.Fatalf("Login: %v", err)
		}
		if got.ID != u.ID {
			t.Errorf("Login returned user %d, want %d", got.ID, u.ID)
		}
		now := h.clock.Now()
		if !p.AccessExpiresAt.Equal(now.Add(accessLifetime)) || !p.RefreshExpiresAt.Equal(now.Add(refreshLifetime)) {
			t.Errorf("pair expires at %v / %v; want now+%v / now+%v", p.AccessExpiresAt, p.RefreshExpiresAt, accessLifetime, refreshLifetime)
		}
		ac, rc := h.claims(p.Access), h.claims(p.Refresh)
		uid := fmt.Sprint(u.ID)
		if ac.Type != tollgate.AccessToken || rc.Type != tollgate.RefreshToken || ac.UserID != uid || rc.UserID != uid ||
			ac.SessionID != p.SessionID || rc.SessionID != p.SessionID {
			t.Errorf("access %+v / refresh %+v; want types access/refresh for user %s in session %s", ac, rc, uid, p.SessionID)
		}
		sessions, err := h.svc.Sessions(t.Context(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(sessions) != 1 || sessions[0].ID != p.SessionID || sessions[0].UserAgent != info.UserAgent || sessions[0].IP != info.IP {
			t.Fatalf("Sessions = %v; want the one new session with UA %q and IP %q", sessions, info.UserAgent, info.IP)
		}
		if sessions[0].CurrentJTI != rc.JTI {
			t.Errorf("session's current jti %q, refresh token's %q; want the same", sessions[0].CurrentJTI, rc.JTI)
		}
		sameTime(t, "LastLogin", mustUser(t, h.store, u.ID).LastLogin, now)
		ev := h.wantEvents(h.events, tollgate.EventLoginSucceeded, p.SessionID, 1)
		if len(ev) == 1 && (ev[0].UserID != u.ID || ev[0].IP != info.IP) {
			t.Errorf("login_succeeded event %+v; want user %d from %s", ev[0], u.ID, info.IP)
		}
	}},
	{"Login_BadCredentialsAreOneError", func(t *testing.T, h *harness) {
		h.user("alice")
		inactive := h.user("ivan")
		if err := h.svc.SetUserActive(t.Context(), inactive.ID, false); err != nil {
			t.Fatal(err)
		}
		// A user with no usable password is checked against the service's
		// timing dummy: its dummy password must not log it in.
		if _, err := h.svc.CreateUser(t.Context(), "nopass", "", "", false); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name, login, password, reason string
		}{
			{"wrong password", "alice", "not-alices-password", "bad_password"},
			{"unknown user", "mallory", "whatever-password", "unknown_user"},
			{"inactive user", "ivan", passwordOf("ivan"), "inactive"},
			{"no usable password", "nopass", "tollgate-timing-equaliser", "bad_password"},
			{"empty password", "alice", "", "bad_password"},
			{"username is case-sensitive", "ALICE", passwordOf("alice"), "unknown_user"},
		}
		for _, tt := range tests {
			p, u, err := h.svc.Login(t.Context(), tt.login, tt.password, info)
			wantErr(t, tt.name, err, tollgate.ErrInvalidCredentials)
			if p != nil || u != nil {
				t.Errorf("%s: Login returned %v, %v with its error", tt.name, p, u)
			}
			ev := h.events.of(tollgate.EventLoginFailed)
			if len(ev) == 0 || ev[len(ev)-1].Reason != tt.reason || ev[len(ev)-1].Login != strings.ToLower(tt.login) {
				t.Errorf("%s: last login_failed event %v; want reason %q for login %q", tt.name, ev, tt.reason, tt.login)
			}
		}
		for _, name := range []string{"alice", "ivan", "nopass"} {
			u := mustLogin(t, h.store, tollgate.LoginByUsername, name)
			if ss, err := h.svc.Sessions(t.Context(), u.ID); err != nil || len(ss) != 0 {
				t.Errorf("%s has sessions %v (%v) after failed logins; want none", name, ss, err)
			}
		}
		if n := len(h.events.of(tollgate.EventLoginSucceeded)); n != 0 {
			t.Errorf("%d login_succeeded events; want none", n)
		}
	}},
	{"Login_LockoutAfterLimitSurvivesRestartAndLifts", func(t *testing.T, h *harness) {
		h.user("alice")
		for i := 1; i <= failureLimit; i++ {
			_, _, err := h.svc.Login(t.Context(), "alice", "wrong-password", info)
			wantErr(t, fmt.Sprintf("failure %d", i), err, tollgate.ErrInvalidCredentials)
			h.clock.Advance(time.Second)
		}
		h.wantEvents(h.events, tollgate.EventLoginFailed, "", failureLimit)
		if ev := h.wantEvents(h.events, tollgate.EventAccountLocked, "", 1); len(ev) == 1 && ev[0].Login != "alice" {
			t.Errorf("account_locked event %+v; want login alice", ev[0])
		}
		lockedUntil := t0.Add(time.Duration(failureLimit-1)*time.Second + lockout)

		// The right password does not open a locked account, and the
		// answer says when to retry.
		_, _, err := h.svc.Login(t.Context(), "alice", passwordOf("alice"), info)
		var e *tollgate.Error
		if !errors.As(err, &e) || e.Code != tollgate.ERateLimited || e.RetryAfter != lockedUntil.Sub(h.clock.Now()) {
			t.Fatalf("Login while locked: %#v; want %s with RetryAfter %v", err, tollgate.ERateLimited, lockedUntil.Sub(h.clock.Now()))
		}

		if ev := h.wantEvents(h.events, tollgate.EventRateLimited, "", 1); len(ev) == 1 && (ev[0].Login != "alice" || ev[0].Reason != "account_locked") {
			t.Errorf("rate_limited event %+v; want login alice, reason account_locked", ev[0])
		}
		if n := len(h.events.of(tollgate.EventLoginFailed)); n != failureLimit {
			t.Errorf("a refused login while locked recorded a login_failed (%d in all, want %d)", n, failureLimit)
		}

		// A restarted service (same store) still refuses.
		h.clock.Advance(5 * time.Minute)
		restarted := h.service(nil)
		_, _, err = restarted.Login(t.Context(), "alice", passwordOf("alice"), info)
		if !errors.As(err, &e) || e.Code != tollgate.ERateLimited || e.RetryAfter != lockedUntil.Sub(h.clock.Now()) {
			t.Fatalf("Login after a restart: %#v; want %s with RetryAfter %v", err, tollgate.ERateLimited, lockedUntil.Sub(h.clock.Now()))
		}

		// One second before the end still locked; at LockedUntil it lifts.
		h.clock.Set(lockedUntil.Add(-time.Second))
		_, _, err = restarted.Login(t.Context(), "alice", passwordOf("alice"), info)
		if tollgate.ErrorCode(err) != tollgate.ERateLimited {
			t.Fatalf("Login a second before the lock ends: %v; want %s", err, tollgate.ERateLimited)
		}
		h.clock.Set(lockedUntil)
		if _, _, err := restarted.Login(t.Context(), "alice", passwordOf("alice"), info); err != nil {
			t.Fatalf("Login when the lock ends: %v", err)
		}
		if n := len(h.events.of(tollgate.EventAccountLocked)); n != 1 {
			t.Errorf("%d account_locked events; want 1", n)
		}
	}},
	{"Login_SuccessClearsFailureCount", func(t *testing.T, h *harness) {
		// Within one window, limit-1 failures, a success, and limit-1
		// more must not lock: the success wiped the slate.
		h.user("alice")
		for round := range 2 {
			for range failureLimit - 1 {
				_, _, err := h.svc.Login(t.Context(), "alice", "wrong-password", info)
				wantErr(t, fmt.Sprintf("round %d failure", round), err, tollgate.ErrInvalidCredentials)
				h.clock.Advance(time.Second)
			}
			h.login(h.svc, "alice")
			f, err := h.store.LoginFailures(t.Context(), "alice")
			if err != nil || f.Count != 0 {
				t.Errorf("round %d: failures after a success = %+v, %v; want count 0", round, f, err)
			}
		}
		h.wantEvents(h.events, tollgate.EventAccountLocked, "", 0)
	}},
	{"Login_UnknownNamesAreLockedToo", func(t *testing.T, h *harness) {
		// Locking only real accounts would tell an attacker which exist.
		for range failureLimit {
			_, _, err := h.svc.Login(t.Context(), "ghost", "any-password-at-all", info)
			wantErr(t, "unknown user", err, tollgate.ErrInvalidCredentials)
		}
		_, _, err := h.svc.Login(t.Context(), "ghost", "any-password-at-all", info)
		if tollgate.ErrorCode(err) != tollgate.ERateLimited {
			t.Errorf("unknown login after %d failures: %v; want %s", failureLimit, err, tollgate.ERateLimited)
		}
	}},
	{"Login_DjangoHashUpgradedToArgon2id", func(t *testing.T, h *harness) {
		u := &tollgate.User{Username: "django", Email: "django@example.com", PasswordHash: djangoHash, IsActive: true, CreatedAt: t0}
		if err := h.store.CreateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
		if _, _, err := h.svc.Login(t.Context(), "django", "not-the-password", info); !errors.Is(err, tollgate.ErrInvalidCredentials) {
			t.Fatalf("wrong password against a Django hash: %v; want ErrInvalidCredentials", err)
		}
		if got := mustUser(t, h.store, u.ID).PasswordHash; got != djangoHash {
			t.Fatalf("a failed login changed the hash to %q", got)
		}
		if _, _, err := h.svc.Login(t.Context(), "django", djangoPassword, info); err != nil {
			t.Fatalf("Login with the Django password: %v", err)
		}
		upgraded := mustUser(t, h.store, u.ID)
		if !strings.HasPrefix(upgraded.PasswordHash, "argon2$argon2id$") {
			t.Fatalf("hash after login %q; want argon2id", upgraded.PasswordHash)
		}
		if !upgraded.PasswordChangedAt.IsZero() {
			t.Errorf("an upgrade set PasswordChangedAt = %v; want it left zero (not a password change)", upgraded.PasswordChangedAt)
		}
		h.wantEvents(h.events, tollgate.EventPasswordHashUpgraded, "", 1)
		// The upgraded hash verifies the same password, and is not upgraded again.
		if _, _, err := h.svc.Login(t.Context(), "django", djangoPassword, info); err != nil {
			t.Fatalf("Login after the upgrade: %v", err)
		}
		if got := mustUser(t, h.store, u.ID).PasswordHash; got != upgraded.PasswordHash {
			t.Errorf("second login re-hashed again")
		}
		h.wantEvents(h.events, tollgate.EventPasswordHashUpgraded, "", 1)
	}},
	{"Login_KeepPasswordHashesLeavesDjangoHash", func(t *testing.T, h *harness) {
		u := &tollgate.User{Username: "django", PasswordHash: djangoHash, IsActive: true, CreatedAt: t0}
		if err := h.store.CreateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
		svc := h.service(func(c *tollgate.Config) { c.KeepPasswordHashes = true })
		if _, _, err := svc.Login(t.Context(), "django", djangoPassword, info); err != nil {
			t.Fatalf("Login: %v", err)
		}
		if got := mustUser(t, h.store, u.ID).PasswordHash; got != djangoHash {
			t.Errorf("hash %q; want the Django hash kept", got)
		}
		h.wantEvents(h.events, tollgate.EventPasswordHashUpgraded, "", 0)
	}},
	{"Login_OneWriteAfterTheHash", func(t *testing.T, h *harness) {
		// Before the hash the attempt is counted (so concurrent guesses
		// cannot outrun the lockout); after it, the write that opens the
		// session also records the last login and takes the count back.
		u := h.user("alice")
		cs := &callStore{Store: h.store}
		svc := h.serviceOver(cs, nil)
		h.clock.Advance(time.Minute)
		p, _, err := svc.Login(t.Context(), "alice", passwordOf("alice"), info)
		if err != nil {
			t.Fatal(err)
		}
		if got := cs.writes(); fmt.Sprint(got) != "[RecordLoginFailure CreateSession]" {
			t.Errorf("store writes of a login = %v; want [RecordLoginFailure CreateSession]", got)
		}
		sameTime(t, "LastLogin", mustUser(t, h.store, u.ID).LastLogin, h.clock.Now())
		h.wantLive(p.SessionID)
		if f, err := h.store.LoginFailures(t.Context(), "alice"); err != nil || f.Count != 0 {
			t.Errorf("failures after a good login = %+v, %v; want none", f, err)
		}

		_, _, err = svc.Login(t.Context(), "alice", "wrong-password", info)
		wantErr(t, "wrong password", err, tollgate.ErrInvalidCredentials)
		if f, err := h.store.LoginFailures(t.Context(), "alice"); err != nil || f.Count != 1 {
			t.Errorf("failures after a wrong password = %+v, %v; want 1", f, err)
		}
		cs.reset()
		h.clock.Advance(time.Minute)
		h.login(svc, "alice")
		if got := cs.writes(); fmt.Sprint(got) != "[RecordLoginFailure CreateSession]" {
			t.Errorf("store writes of a login after a failure = %v; want [RecordLoginFailure CreateSession]", got)
		}
		if f, err := h.store.LoginFailures(t.Context(), "alice"); err != nil || f.Count != 0 {
			t.Errorf("failures after the next good login = %+v, %v; want none", f, err)
		}
		sameTime(t, "LastLogin after the second login", mustUser(t, h.store, u.ID).LastLogin, h.clock.Now())
	}},
	{"Login_ConcurrentGuessesCannotOutrunTheLockout", func(t *testing.T, h *harness) {
		// Guesses sent all at once: only failureLimit of them may reach
		// the password hash; the others are refused as throttled, and the
		// account is locked afterwards even for the right password.
		h.user("alice")
		const n = 20
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, errs[i] = h.svc.Login(t.Context(), "alice", fmt.Sprintf("guess-%d", i), info)
			}()
		}
		wg.Wait()
		checked, throttled := 0, 0
		for _, err := range errs {
			switch {
			case errors.Is(err, tollgate.ErrInvalidCredentials):
				checked++
			case tollgate.ErrorCode(err) == tollgate.ERateLimited:
				throttled++
			default:
				t.Errorf("concurrent guess: unexpected err %v", err)
			}
		}
		if checked != failureLimit || throttled != n-failureLimit {
			t.Errorf("%d guesses checked, %d throttled; want %d and %d", checked, throttled, failureLimit, n-failureLimit)
		}
		_, _, err := h.svc.Login(t.Context(), "alice", passwordOf("alice"), info)
		if tollgate.ErrorCode(err) != tollgate.ERateLimited {
			t.Errorf("right password after the burst: err = %v, want throttled", err)
		}
	}},
	{"Login_UpdateLastLogin_OffLeavesLastLogin", func(t *testing.T, h *harness) {
		u := h.user("alice")
		svc := h.service(func(c *tollgate.Config) { c.UpdateLastLogin = false })
		_, got, err := svc.Login(t.Context(), "alice", passwordOf("alice"), info)
		if err != nil {
			t.Fatal(err)
		}
		if !got.LastLogin.IsZero() || !mustUser(t, h.store, u.ID).LastLogin.IsZero() {
			t.Errorf("LastLogin returned %v, stored %v; want both zero with UpdateLastLogin off", got.LastLogin, mustUser(t, h.store, u.ID).LastLogin)
		}
	}},
	{"Login_ByEmailWhenConfigured", func(t *testing.T, h *harness) {
		u := h.user("alice")
		svc := h.service(func(c *tollgate.Config) { c.LoginField = tollgate.LoginByEmail })
		_, got, err := svc.Login(t.Context(), "ALICE@example.com", passwordOf("alice"), info)
		if err != nil || got.ID != u.ID {
			t.Fatalf("Login by email: %v, %v; want user %d", got, err, u.ID)
		}
		_, _, err = svc.Login(t.Context(), "alice", passwordOf("alice"), info)
		wantErr(t, "username where email is the login field", err, tollgate.ErrInvalidCredentials)
	}},
}

// ---------------------------------------------------------------- refresh

var refreshCases = []serviceCase{
	{"Refresh_RotatesInSameSession", func(t *testing.T, h *harness) {
		h.user("alice")
		p0 := h.login(h.svc, "alice")
		h.clock.Advance(10 * time.Minute)
		p1 := h.refresh(h.svc, p0.Refresh)
		c0, c1 := h.claims(p0.Refresh), h.claims(p1.Refresh)
		if c1.JTI == c0.JTI || c1.SessionID != c0.SessionID || p1.SessionID != p0.SessionID {
			t.Fatalf("rotated refresh jti %q sid %q; want a new jti in session %q", c1.JTI, c1.SessionID, c0.SessionID)
		}
		now := h.clock.Now()
		if !c1.IssuedAt.Equal(now) || !c1.ExpiresAt.Equal(now.Add(refreshLifetime)) || !p1.RefreshExpiresAt.Equal(c1.ExpiresAt) {
			t.Errorf("new refresh iat %v exp %v (pair says %v); want %v and %v", c1.IssuedAt, c1.ExpiresAt, p1.RefreshExpiresAt, now, now.Add(refreshLifetime))
		}
		if ac := h.claims(p1.Access); ac.Type != tollgate.AccessToken || ac.SessionID != p0.SessionID || !ac.ExpiresAt.Equal(now.Add(accessLifetime)) {
			t.Errorf("new access token %+v; want an access token of the session expiring at now+%v", ac, accessLifetime)
		}
		s := h.session(p0.SessionID)
		if s.CurrentJTI != c1.JTI || s.PreviousJTI != c0.JTI {
			t.Errorf("session current %q previous %q; want %q after %q", s.CurrentJTI, s.PreviousJTI, c1.JTI, c0.JTI)
		}
		sameTime(t, "RotatedAt", s.RotatedAt, now)
		sameTime(t, "LastUsedAt", s.LastUsedAt, now)
		sameTime(t, "ExpiresAt", s.ExpiresAt, now.Add(refreshLifetime))
		// The new token rotates in turn.
		h.clock.Advance(time.Minute)
		h.refresh(h.svc, p1.Refresh)
	}},
	{"Refresh_HappyPathIsOneStoreCall", func(t *testing.T, h *harness) {
		// A good refresh with rotation reads nothing before it writes: the
		// one RotateSession checks and returns all the rest.
		h.user("alice")
		cs := &callStore{Store: h.store}
		svc := h.serviceOver(cs, func(c *tollgate.Config) { c.ClaimsHook = roleHook })
		p0 := h.login(svc, "alice")
		h.clock.Advance(time.Minute)
		cs.reset()
		p1 := h.refresh(svc, p0.Refresh)
		if got := cs.all(); fmt.Sprint(got) != "[RotateSession]" {
			t.Errorf("store calls of a refresh = %v; want [RotateSession]", got)
		}
		// The pair is minted from what the store returned: the user for
		// the claims hook, the row for the refresh token.
		if role := h.claims(p1.Access).Extra["role"]; role != "user:alice" {
			t.Errorf("access token role claim %v; want the hook's answer for the returned user", role)
		}
		s := h.session(p0.SessionID)
		if c := h.claims(p1.Refresh); c.JTI != s.CurrentJTI || !c.ExpiresAt.Equal(s.ExpiresAt) || !c.IssuedAt.Equal(s.CurrentIssuedAt) {
			t.Errorf("refresh token jti %q iat %v exp %v; want the row's %q %v %v", c.JTI, c.IssuedAt, c.ExpiresAt, s.CurrentJTI, s.CurrentIssuedAt, s.ExpiresAt)
		}
	}},
	{"Refresh_TokenNamingAnotherUserIsInvalid", func(t *testing.T, h *harness) {
		// A validly signed token whose user_id is not the session's (a
		// minting bug, a key shared with another issuer): refused, and
		// the session it names is left alone.
		h.user("alice")
		bob := h.user("bob")
		p0 := h.login(h.svc, "alice")
		c := h.claims(p0.Refresh)
		c.UserID = fmt.Sprint(bob.ID)
		forged, err := h.codec.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		before := h.session(p0.SessionID)
		h.clock.Advance(time.Minute)
		_, err = h.svc.Refresh(t.Context(), forged, info)
		wantErr(t, "refresh token naming another user", err, tollgate.ErrTokenInvalid)
		equalSession(t, h.session(p0.SessionID), before)
		h.refresh(h.svc, p0.Refresh)
	}},
	{"Refresh_TransientRefusalIsNotReuse", func(t *testing.T, h *harness) {
		// A rotation refused while the user was briefly inactive, with the
		// token still current when the service looks: no replay happened,
		// so the session must survive and the next refresh succeed.
		h.user("alice")
		fs := &refusingStore{Store: h.store, refusals: 1}
		svc := h.serviceOver(fs, nil)
		p0 := h.login(svc, "alice")
		h.clock.Advance(time.Minute)
		_, err := svc.Refresh(t.Context(), p0.Refresh, info)
		wantErr(t, "refresh refused by a state since gone", err, tollgate.ErrRotationConflict)
		h.wantLive(p0.SessionID)
		h.wantEvents(h.events, tollgate.EventRefreshTokenReused, "", 0)
		h.wantEvents(h.events, tollgate.EventFamilyRevoked, "", 0)
		h.refresh(svc, p0.Refresh)
	}},
	{"Refresh_ReusedTokenRevokesFamily", func(t *testing.T, h *harness) {
		h.user("alice")
		p0 := h.login(h.svc, "alice")
		h.clock.Advance(time.Minute)
		p1 := h.refresh(h.svc, p0.Refresh)
		h.clock.Advance(time.Minute)
		_, err := h.svc.Refresh(t.Context(), p0.Refresh, info)
		wantErr(t, "replay of the rotated token", err, tollgate.ErrTokenReused)
		h.wantRevoked(p0.SessionID, tollgate.RevokeReuse)
		// The successor (held by thief or victim, no telling) dies with it.
		_, err = h.svc.Refresh(t.Context(), p1.Refresh, info)
		wantErr(t, "successor of a reused token", err, tollgate.ErrTokenBlacklisted)
		if ev := h.wantEvents(h.events, tollgate.EventRefreshTokenReused, p0.SessionID, 1); len(ev) == 1 && ev[0].JTI != h.claims(p0.Refresh).JTI {
			t.Errorf("reuse event names jti %q; want the replayed %q", ev[0].JTI, h.claims(p0.Refresh).JTI)
		}
		if ev := h.wantEvents(h.events, tollgate.EventFamilyRevoked, p0.SessionID, 1); len(ev) == 1 && ev[0].Reason != tollgate.RevokeReuse {
			t.Errorf("family_revoked reason %q; want %q", ev[0].Reason, tollgate.RevokeReuse)
		}
		h.wantEvents(h.events, tollgate.EventBlacklistedTokenUsed, p0.SessionID, 1)
		if ss, _ := h.svc.Sessions(t.Context(), h.session(p0.SessionID).UserID); len(ss) != 0 {
			t.Errorf("Sessions lists %v after reuse; want none", sessionIDs(ss))
		}
	}},
	{"Refresh_ConcurrentSameTokenExactlyOneWins", func(t *testing.T, h *harness) {
		h.user("alice")
		p0 := h.login(h.svc, "alice")
		h.clock.Advance(time.Minute)
		pairs := make([]*tollgate.Pair, concurrency)
		errs := race(concurrency, func(i int) error {
			p, err := h.svc.Refresh(context.Background(), p0.Refresh, info)
			pairs[i] = p
			return err
		})
		wins := 0
		for i, err := range errs {
			switch {
			case err == nil:
				wins++
			case errors.Is(err, tollgate.ErrTokenReused), errors.Is(err, tollgate.ErrTokenBlacklisted):
			default:
				t.Errorf("refresh %d: %v; want success, ErrTokenReused or ErrTokenBlacklisted", i, err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d of %d concurrent refreshes of one token succeeded; want exactly 1", wins, concurrency)
		}
		// Without a grace window every loser is a replay: the family is dead.
		h.wantRevoked(p0.SessionID, tollgate.RevokeReuse)
		h.wantEvents(h.events, tollgate.EventFamilyRevoked, p0.SessionID, 1)
	}},
	{"Refresh_GraceWindowReplaysGetSameSuccessor", func(t *testing.T, h *harness) {
		svc := h.service(func(c *tollgate.Config) { c.RefreshGraceWindow = graceWindow })
		h.user("alice")
		p0 := h.login(svc, "alice")
		h.clock.Advance(time.Minute)
		pairs := make([]*tollgate.Pair, concurrency)
		errs := race(concurrency, func(i int) error {
			p, err := svc.Refresh(context.Background(), p0.Refresh, info)
			pairs[i] = p
			return err
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("refresh %d inside the grace window: %v", i, err)
			}
		}
		successor := pairs[0].Refresh
		for i, p := range pairs {
			if p.Refresh != successor {
				t.Fatalf("refresh %d got refresh token %q, refresh 0 got %q; want one successor for all", i, p.Refresh, successor)
			}
		}
		s := h.session(p0.SessionID)
		if s.CurrentJTI != h.claims(successor).JTI || s.PreviousJTI != h.claims(p0.Refresh).JTI {
			t.Errorf("session current %q previous %q; want the successor after the original", s.CurrentJTI, s.PreviousJTI)
		}
		h.wantEvents(h.events, tollgate.EventRefreshTokenReused, "", 0)

		// The last second of the window still forgives; at its end the
		// previous token is reuse.
		h.clock.Advance(graceWindow - time.Second)
		if p := h.refresh(svc, p0.Refresh); p.Refresh != successor {
			t.Errorf("replay in the last second of the window got a different refresh token")
		}
		h.clock.Advance(time.Second)
		_, err := svc.Refresh(t.Context(), p0.Refresh, info)
		wantErr(t, "replay at the end of the grace window", err, tollgate.ErrTokenReused)
		h.wantRevoked(p0.SessionID, tollgate.RevokeReuse)
		_, err = svc.Refresh(t.Context(), successor, info)
		wantErr(t, "successor after reuse", err, tollgate.ErrTokenBlacklisted)
	}},
	{"Refresh_GraceWindowForgivesOnlyTheLastRotation", func(t *testing.T, h *harness) {
		svc := h.service(func(c *tollgate.Config) { c.RefreshGraceWindow = graceWindow })
		h.user("alice")
		p0 := h.login(svc, "alice")
		h.clock.Advance(time.Second)
		p1 := h.refresh(svc, p0.Refresh)
		h.clock.Advance(time.Second)
		h.refresh(svc, p1.Refresh)
		// p0 is two rotations back: inside the window by time, but not the
		// token just rotated away.
		_, err := svc.Refresh(t.Context(), p0.Refresh, info)
		wantErr(t, "replay two rotations back", err, tollgate.ErrTokenReused)
	}},
	{"Refresh_RotationOffKeepsRefreshToken", func(t *testing.T, h *harness) {
		svc := h.service(func(c *tollgate.Config) { c.RotateRefreshTokens = false })
		h.user("alice")
		p0 := h.login(svc, "alice")
		jti := h.claims(p0.Refresh).JTI
		for i := 1; i <= 3; i++ {
			h.clock.Advance(time.Minute)
			p := h.refresh(svc, p0.Refresh)
			if p.Refresh != "" || p.Access == "" {
				t.Fatalf("refresh %d without rotation returned refresh %q access %q; want only an access token", i, p.Refresh, p.Access)
			}
			s := h.session(p0.SessionID)
			if s.CurrentJTI != jti {
				t.Fatalf("refresh %d changed the current jti to %q", i, s.CurrentJTI)
			}
			sameTime(t, "LastUsedAt", s.LastUsedAt, h.clock.Now())
		}
		if _, err := svc.Verify(t.Context(), p0.Refresh); err != nil {
			t.Errorf("Verify of the unrotated token: %v", err)
		}
	}},
	{"Refresh_AbsoluteLifetimeCapsSession", func(t *testing.T, h *harness) {
		const maxLife = 2 * time.Hour
		svc := h.service(func(c *tollgate.Config) { c.SessionMaxLifetime = maxLife })
		h.user("alice")
		p0 := h.login(svc, "alice")
		end := t0.Add(maxLife)
		if s := h.session(p0.SessionID); !s.AbsoluteExpiresAt.Equal(end) {
			t.Errorf("AbsoluteExpiresAt = %v, want %v", s.AbsoluteExpiresAt, end)
		}
		h.clock.Advance(50 * time.Minute)
		pMid := h.refresh(svc, p0.Refresh)
		if c := h.claims(pMid.Refresh); !c.ExpiresAt.Equal(h.clock.Now().Add(refreshLifetime)) {
			t.Errorf("refresh far from the cap expires at %v; want now+%v", c.ExpiresAt, refreshLifetime)
		}
		h.clock.Advance(50 * time.Minute)
		p1 := h.refresh(svc, pMid.Refresh)
		if c := h.claims(p1.Refresh); !c.ExpiresAt.Equal(end) || !p1.RefreshExpiresAt.Equal(end) {
			t.Fatalf("refresh near the cap expires at %v (pair %v); want the cap %v", c.ExpiresAt, p1.RefreshExpiresAt, end)
		}
		sameTime(t, "ExpiresAt", h.session(p0.SessionID).ExpiresAt, end)
		h.clock.Set(end.Add(-time.Second))
		p2 := h.refresh(svc, p1.Refresh)
		if c := h.claims(p2.Refresh); !c.ExpiresAt.Equal(end) {
			t.Errorf("last refresh expires at %v; want the cap %v", c.ExpiresAt, end)
		}
		h.clock.Set(end)
		_, err := svc.Refresh(t.Context(), p2.Refresh, info)
		wantErr(t, "refresh at the session's absolute end", err, tollgate.ErrTokenExpired)
		uid := h.session(p0.SessionID).UserID
		if ss, err := svc.Sessions(t.Context(), uid); err != nil || len(ss) != 0 {
			t.Errorf("Sessions at the absolute end = %v, %v; want none", sessionIDs(ss), err)
		}
	}},
	{"Refresh_RejectsAccessToken", func(t *testing.T, h *harness) {
		h.user("alice")
		p := h.login(h.svc, "alice")
		_, err := h.svc.Refresh(t.Context(), p.Access, info)
		wantErr(t, "access token presented to Refresh", err, tollgate.ErrWrongTokenType)
		h.wantLive(p.SessionID)
		h.refresh(h.svc, p.Refresh)
	}},
	{"Refresh_ExpiredAtExp", func(t *testing.T, h *harness) {
		h.user("alice")
		p0 := h.login(h.svc, "alice")
		p1 := h.login(h.svc, "alice")
		h.clock.Set(p0.RefreshExpiresAt.Add(-time.Second))
		h.refresh(h.svc, p0.Refresh)
		h.clock.Set(p1.RefreshExpiresAt)
		_, err := h.svc.Refresh(t.Context(), p1.Refresh, info)
		wantErr(t, "refresh with exp == now", err, tollgate.ErrTokenExpired)
	}},
	{"Refresh_MalformedTokensAreInvalid", func(t *testing.T, h *harness) {
		h.user("alice")
		p := h.login(h.svc, "alice")
		otherKeys, err := token.NewHMACKeySet("HS256", []byte("another-secret-entirely-0123456789abcdef"))
		if err != nil {
			t.Fatal(err)
		}
		other, err := token.New(token.Config{Keys: otherKeys, Now: h.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		c := h.claims(p.Refresh)
		forged, err := other.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		tampered := p.Refresh[:len(p.Refresh)-2] + "AA"
		if tampered == p.Refresh {
			tampered = p.Refresh[:len(p.Refresh)-2] + "BB"
		}
		for name, raw := range map[string]string{
			"empty": "", "garbage": "not-a-token", "tampered signature": tampered, "other key": forged,
		} {
			_, err := h.svc.Refresh(t.Context(), raw, info)
			wantErr(t, name, err, tollgate.ErrTokenInvalid)
		}
		h.wantLive(p.SessionID)
	}},
	{"Refresh_GoneUserHasNoActiveAccount", func(t *testing.T, h *harness) {
		tests := []struct {
			name string
			gone func(t *testing.T, u *tollgate.User)
		}{
			{"deleted", func(t *testing.T, u *tollgate.User) {
				if err := h.store.DeleteUser(t.Context(), u.ID); err != nil {
					t.Fatal(err)
				}
			}},
			{"deactivated through the service", func(t *testing.T, u *tollgate.User) {
				if err := h.svc.SetUserActive(t.Context(), u.ID, false); err != nil {
					t.Fatal(err)
				}
			}},
			{"deactivated in the store alone", func(t *testing.T, u *tollgate.User) {
				// e.g. by Django's admin on a shared table: the
				// sessions are still live when the refresh comes.
				if err := h.store.SetUserActive(t.Context(), u.ID, false); err != nil {
					t.Fatal(err)
				}
			}},
		}
		for i, tt := range tests {
			u := h.user(fmt.Sprintf("user%d", i))
			p0 := h.login(h.svc, u.Username)
			h.clock.Advance(time.Second)
			p1 := h.refresh(h.svc, p0.Refresh)
			tt.gone(t, u)
			_, err := h.svc.Refresh(t.Context(), p1.Refresh, info)
			wantErr(t, tt.name+": current token", err, tollgate.ErrInvalidCredentials)
			_, err = h.svc.Refresh(t.Context(), p0.Refresh, info)
			wantErr(t, tt.name+": rotated token", err, tollgate.ErrInvalidCredentials)
		}
	}},
}

// ---------------------------------------------------------------- verify

var verifyCases = []serviceCase{
	{"Verify_AccessAndCurrentRefreshAreValid", func(t *testing.T, h *harness) {
		u := h.user("alice")
		p := h.login(h.svc, "alice")
		for name, raw := range map[string]string{"access": p.Access, "refresh": p.Refresh} {
			c, err := h.svc.Verify(t.Context(), raw)
			if err != nil {
				t.Errorf("Verify(%s): %v", name, err)
				continue
			}
			if string(c.Type) != name || c.UserID != fmt.Sprint(u.ID) || c.SessionID != p.SessionID {
				t.Errorf("Verify(%s) = %+v; want a %s token of user %d in session %s", name, c, name, u.ID, p.SessionID)
			}
		}
	}},
	{"Verify_RotatedRefreshIsBlacklistedWithoutRevoking", func(t *testing.T, h *harness) {
		h.user("alice")
		p0 := h.login(h.svc, "alice")
		h.clock.Advance(time.Minute)
		p1 := h.refresh(h.svc, p0.Refresh)
		_, err := h.svc.Verify(t.Context(), p0.Refresh)
		wantErr(t, "Verify of a rotated refresh token", err, tollgate.ErrTokenBlacklisted)
		// Verify answers questions; it must not act on them.
		h.wantLive(p0.SessionID)
		h.wantEvents(h.events, tollgate.EventRefreshTokenReused, "", 0)
		if _, err := h.svc.Verify(t.Context(), p1.Refresh); err != nil {
			t.Errorf("Verify of the current token after verifying the old one: %v", err)
		}
		h.refresh(h.svc, p1.Refresh)
	}},
	{"Verify_RevokedSessionIsBlacklisted", func(t *testing.T, h *harness) {
		h.user("alice")
		p := h.login(h.svc, "alice")
		if err := h.svc.Logout(t.Context(), p.Refresh, info); err != nil {
			t.Fatal(err)
		}
		_, err := h.svc.Verify(t.Context(), p.Refresh)
		wantErr(t, "Verify of a logged-out refresh token", err, tollgate.ErrTokenBlacklisted)
	}},
	{"Verify_ExpiredAndInvalidTokens", func(t *testing.T, h *harness) {
		h.user("alice")
		p := h.login(h.svc, "alice")
		_, err := h.svc.Verify(t.Context(), "a.b.c")
		wantErr(t, "garbage", err, tollgate.ErrTokenInvalid)
		h.clock.Set(p.AccessExpiresAt)
		_, err = h.svc.Verify(t.Context(), p.Access)
		wantErr(t, "access with exp == now", err, tollgate.ErrTokenExpired)
		if _, err := h.svc.Verify(t.Context(), p.Refresh); err != nil {
			t.Errorf("refresh still within its lifetime: %v", err)
		}
		h.clock.Set(p.RefreshExpiresAt)
		_, err = h.svc.Verify(t.Context(), p.Refresh)
		wantErr(t, "refresh with exp == now", err, tollgate.ErrTokenExpired)
	}},
}

// ---------------------------------------------------------------- revocation

var revocationCases = []serviceCase{
	{"Logout_RevokesSession", func(t *testing.T, h *harness) {
		h.user("alice")
		p := h.login(h.svc, "alice")
		other := h.login(h.svc, "alice")
		if revoked, err := h.svc.SessionRevoked(t.Context(), p.SessionID); err != nil || revoked {
			t.Fatalf("SessionRevoked before logout = %v, %v; want false", revoked, err)
		}
		if err := h.svc.Logout(t.Context(), p.Refresh, info); err != nil {
			t.Fatalf("Logout: %v", err)
		}
		h.wantRevoked(p.SessionID, tollgate.RevokeLogout)
		if revoked, err := h.svc.SessionRevoked(t.Context(), p.SessionID); err != nil || !revoked {
			t.Errorf("SessionRevoked after logout = %v, %v; want true", revoked, err)
		}
		_, err := h.svc.Refresh(t.Context(), p.Refresh, info)
		wantErr(t, "refresh after logout", err, tollgate.ErrTokenBlacklisted)
		wantErr(t, "second logout", h.svc.Logout(t.Context(), p.Refresh, info), tollgate.ErrTokenBlacklisted)
		wantErr(t, "logout with an access token", h.svc.Logout(t.Context(), other.Access, info), tollgate.ErrWrongTokenType)
		h.wantLive(other.SessionID)
		h.wantEvents(h.events, tollgate.EventLogout, p.SessionID, 1)
		h.wantEvents(h.events, tollgate.EventFamilyRevoked, p.SessionID, 1)
		if revoked, err := h.svc.SessionRevoked(t.Context(), "no-such-session"); err != nil || !revoked {
			t.Errorf("SessionRevoked of an unknown session = %v, %v; want true", revoked, err)
		}
	}},
	{"Logout_WithRotatedTokenIsReuse", func(t *testing.T, h *harness) {
		h.user("alice")
		p0 := h.login(h.svc, "alice")
		h.clock.Advance(time.Minute)
		p1 := h.refresh(h.svc, p0.Refresh)
		wantErr(t, "logout with the rotated token", h.svc.Logout(t.Context(), p0.Refresh, info), tollgate.ErrTokenReused)
		h.wantRevoked(p0.SessionID, tollgate.RevokeReuse)
		_, err := h.svc.Refresh(t.Context(), p1.Refresh, info)
		wantErr(t, "successor after a logout with its predecessor", err, tollgate.ErrTokenBlacklisted)
		h.wantEvents(h.events, tollgate.EventRefreshTokenReused, p0.SessionID, 1)
		h.wantEvents(h.events, tollgate.EventLogout, "", 0)
	}},
	{"LogoutAll_RevokesOnlyThatUsersSessions", func(t *testing.T, h *harness) {
		alice, bob := h.user("alice"), h.user("bob")
		a1, a2 := h.login(h.svc, "alice"), h.login(h.svc, "alice")
		b := h.login(h.svc, "bob")
		n, err := h.svc.LogoutAll(t.Context(), alice.ID, info)
		if err != nil || n != 2 {
			t.Fatalf("LogoutAll = %d, %v; want 2 sessions", n, err)
		}
		for _, p := range []*tollgate.Pair{a1, a2} {
			h.wantRevoked(p.SessionID, tollgate.RevokeLogoutAll)
			_, err := h.svc.Refresh(t.Context(), p.Refresh, info)
			wantErr(t, "alice's refresh after logout-all", err, tollgate.ErrTokenBlacklisted)
		}
		h.wantLive(b.SessionID)
		h.refresh(h.svc, b.Refresh)
		if ss, _ := h.svc.Sessions(t.Context(), alice.ID); len(ss) != 0 {
			t.Errorf("alice's sessions after logout-all: %v; want none", sessionIDs(ss))
		}
		if ss, _ := h.svc.Sessions(t.Context(), bob.ID); len(ss) != 1 {
			t.Errorf("bob's sessions after alice's logout-all: %v; want his one", sessionIDs(ss))
		}
		h.wantEvents(h.events, tollgate.EventLogoutAll, "", 1)
		h.wantEvents(h.events, tollgate.EventFamilyRevoked, "", 2)
		if n, err := h.svc.LogoutAll(t.Context(), alice.ID, info); err != nil || n != 0 {
			t.Errorf("second LogoutAll = %d, %v; want 0", n, err)
		}
	}},
	{"ChangePassword_KeepsCurrentSessionRevokesOthers", func(t *testing.T, h *harness) {
		u := h.user("alice")
		current, other := h.login(h.svc, "alice"), h.login(h.svc, "alice")
		h.clock.Advance(time.Minute)
		const newPassword = "a-brand-new-passphrase"
		if err := h.svc.ChangePassword(t.Context(), u.ID, current.SessionID, passwordOf("alice"), newPassword, info); err != nil {
			t.Fatalf("ChangePassword: %v", err)
		}
		h.wantLive(current.SessionID)
		h.wantRevoked(other.SessionID, tollgate.RevokePasswordChange)
		h.refresh(h.svc, current.Refresh)
		_, err := h.svc.Refresh(t.Context(), other.Refresh, info)
		wantErr(t, "other session after a password change", err, tollgate.ErrTokenBlacklisted)
		_, _, err = h.svc.Login(t.Context(), "alice", passwordOf("alice"), info)
		wantErr(t, "login with the old password", err, tollgate.ErrInvalidCredentials)
		if _, _, err := h.svc.Login(t.Context(), "alice", newPassword, info); err != nil {
			t.Errorf("login with the new password: %v", err)
		}
		sameTime(t, "PasswordChangedAt", mustUser(t, h.store, u.ID).PasswordChangedAt, h.clock.Now())
		h.wantEvents(h.events, tollgate.EventPasswordChanged, current.SessionID, 1)
		h.wantEvents(h.events, tollgate.EventFamilyRevoked, other.SessionID, 1)
	}},
	{"ChangePassword_RefusesWrongOldOrWeakNew", func(t *testing.T, h *harness) {
		u := h.user("alice")
		p := h.login(h.svc, "alice")
		other := h.login(h.svc, "alice")
		tests := []struct {
			name, old, new, field string
		}{
			{"wrong old password", "not-the-old-one", "a-brand-new-passphrase", "old_password"},
			{"too short", passwordOf("alice"), "short", "new_password"},
			{"entirely numeric", passwordOf("alice"), "1234567890123", "new_password"},
			{"same as email", passwordOf("alice"), "Alice@Example.com", "new_password"},
		}
		for _, tt := range tests {
			err := h.svc.ChangePassword(t.Context(), u.ID, p.SessionID, tt.old, tt.new, info)
			wantFieldError(t, tt.name, err, tt.field)
		}
		h.wantLive(other.SessionID)
		if got := mustUser(t, h.store, u.ID); !got.PasswordChangedAt.IsZero() {
			t.Errorf("a refused change set PasswordChangedAt = %v", got.PasswordChangedAt)
		}
		h.login(h.svc, "alice")
		h.wantEvents(h.events, tollgate.EventPasswordChanged, "", 0)
	}},
	{"RevokeSession_OnlyOwnLiveSessions", func(t *testing.T, h *harness) {
		alice, bob := h.user("alice"), h.user("bob")
		a := h.login(h.svc, "alice")
		b := h.login(h.svc, "bob")
		wantErr(t, "alice revoking bob's session", h.svc.RevokeSession(t.Context(), alice.ID, b.SessionID, info), tollgate.ErrSessionNotFound)
		h.wantLive(b.SessionID)
		wantErr(t, "unknown session", h.svc.RevokeSession(t.Context(), alice.ID, "no-such-session", info), tollgate.ErrSessionNotFound)
		if err := h.svc.RevokeSession(t.Context(), alice.ID, a.SessionID, info); err != nil {
			t.Fatalf("alice revoking her own session: %v", err)
		}
		h.wantRevoked(a.SessionID, tollgate.RevokeByUser)
		wantErr(t, "revoking it again", h.svc.RevokeSession(t.Context(), alice.ID, a.SessionID, info), tollgate.ErrSessionNotFound)
		_, err := h.svc.Refresh(t.Context(), a.Refresh, info)
		wantErr(t, "refresh of a revoked session", err, tollgate.ErrTokenBlacklisted)
		// An expired session is not listed, so it cannot be revoked either.
		h.clock.Set(b.RefreshExpiresAt)
		wantErr(t, "revoking an expired session", h.svc.RevokeSession(t.Context(), bob.ID, b.SessionID, info), tollgate.ErrSessionNotFound)
	}},
}

// ---------------------------------------------------------------- users

var serviceUserCases = []serviceCase{
	{"CreateUser_ValidatesAndRefusesDuplicates", func(t *testing.T, h *harness) {
		h.user("alice")
		_, err := h.svc.CreateUser(t.Context(), "  ", "", "a-good-passphrase", false)
		wantFieldError(t, "blank username", err, "username")
		_, err = h.svc.CreateUser(t.Context(), "bob", "", "short", false)
		wantFieldError(t, "short password", err, "password")
		_, err = h.svc.CreateUser(t.Context(), "alice", "other@example.com", "a-good-passphrase", false)
		wantErr(t, "taken username", err, tollgate.ErrUsernameTaken)
		for name, username := range map[string]string{
			"control characters": "evil\x1b[31mRED",
			"a space":            "two words",
			"a quote":            `o"brien`,
			"too long":           strings.Repeat("a", tollgate.MaxUsernameLength+1),
		} {
			_, err = h.svc.CreateUser(t.Context(), username, "", "a-good-passphrase", false)
			wantFieldError(t, "username with "+name, err, "username")
		}
		for _, email := range []string{"not-an-email", "Alice <a@example.com>", "a@b c.com"} {
			_, err = h.svc.CreateUser(t.Context(), "carol", email, "a-good-passphrase", false)
			wantFieldError(t, "email "+email, err, "email")
		}
		// A login by email needs emails to be unique (in any case).
		_, err = h.svc.CreateUser(t.Context(), "alice2", "ALICE@example.com", "a-good-passphrase", false)
		if tollgate.ErrorCode(err) != tollgate.EConflict {
			t.Errorf("second account with alice's email: err = %v, want %s", err, tollgate.EConflict)
		}
		users, err := h.store.ListUsers(t.Context())
		if err != nil || len(users) != 1 {
			t.Errorf("users after refused creations: %d (%v); want 1", len(users), err)
		}
	}},
	{"CreateUser_NormalisesUsernamesAsDjango", func(t *testing.T, h *harness) {
		// NFKC: the full-width "ｂｏｂ" is "bob", so it cannot stand beside it.
		u, err := h.svc.CreateUser(t.Context(), "ｂｏｂ", "", "a-good-passphrase", false)
		if err != nil || u.Username != "bob" {
			t.Fatalf("CreateUser(ｂｏｂ) = %+v, %v; want username bob", u, err)
		}
		_, err = h.svc.CreateUser(t.Context(), "bob", "", "a-good-passphrase", false)
		wantErr(t, "bob after ｂｏｂ", err, tollgate.ErrUsernameTaken)
		if _, err := h.svc.CreateUser(t.Context(), "zoë.o-k+1@x_y", "", "a-good-passphrase", false); err != nil {
			t.Errorf("letters, digits and @.+-_ are allowed: %v", err)
		}
	}},
	{"SetUserActive_DeactivationRevokesEverySession", func(t *testing.T, h *harness) {
		u := h.user("alice")
		h.user("bob")
		p1, p2 := h.login(h.svc, "alice"), h.login(h.svc, "alice")
		b := h.login(h.svc, "bob")
		if err := h.svc.SetUserActive(t.Context(), u.ID, false); err != nil {
			t.Fatal(err)
		}
		h.wantRevoked(p1.SessionID, tollgate.RevokeUserDisabled)
		h.wantRevoked(p2.SessionID, tollgate.RevokeUserDisabled)
		h.wantLive(b.SessionID)
		if _, err := h.svc.OpenSession(t.Context(), mustUser(t, h.store, u.ID), info); !errors.Is(err, tollgate.ErrInvalidCredentials) {
			t.Errorf("OpenSession for an inactive user: %v; want ErrInvalidCredentials", err)
		}
		// Reactivation lets the user log in again but does not revive
		// the revoked sessions.
		if err := h.svc.SetUserActive(t.Context(), u.ID, true); err != nil {
			t.Fatal(err)
		}
		_, err := h.svc.Refresh(t.Context(), p1.Refresh, info)
		wantErr(t, "old session after reactivation", err, tollgate.ErrTokenBlacklisted)
		h.login(h.svc, "alice")
		wantErr(t, "unknown user", h.svc.SetUserActive(t.Context(), 999999, false), tollgate.ErrUserNotFound)
	}},
}

// ---------------------------------------------------------------- call counting

// callStore records the names of the store methods the service calls, so
// cases can pin how many round trips an operation costs.
type callStore struct {
	tollgate.Store
	mu    sync.Mutex
	calls []string
}

func (s *callStore) note(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, name)
}

func (s *callStore) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
}

// all returns every call since the last reset, in order.
func (s *callStore) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

// writes returns the calls since the last reset that change the store.
func (s *callStore) writes() []string {
	var out []string
	for _, c := range s.all() {
		switch c {
		case "UserByID", "UserByLogin", "Session", "LoginFailures", "ListSessions", "ListUsers":
		default:
			out = append(out, c)
		}
	}
	return out
}

func (s *callStore) UserByID(ctx context.Context, id int64) (*tollgate.User, error) {
	s.note("UserByID")
	return s.Store.UserByID(ctx, id)
}

func (s *callStore) UserByLogin(ctx context.Context, field tollgate.LoginField, login string) (*tollgate.User, error) {
	s.note("UserByLogin")
	return s.Store.UserByLogin(ctx, field, login)
}

func (s *callStore) SetPasswordHash(ctx context.Context, id int64, hash string, changedAt time.Time) error {
	s.note("SetPasswordHash")
	return s.Store.SetPasswordHash(ctx, id, hash, changedAt)
}

func (s *callStore) RecordLogin(ctx context.Context, id int64, at time.Time) error {
	s.note("RecordLogin")
	return s.Store.RecordLogin(ctx, id, at)
}

func (s *callStore) CreateSession(ctx context.Context, sess *tollgate.Session, login tollgate.LoginRecord) error {
	s.note("CreateSession")
	return s.Store.CreateSession(ctx, sess, login)
}

func (s *callStore) Session(ctx context.Context, id string) (*tollgate.Session, error) {
	s.note("Session")
	return s.Store.Session(ctx, id)
}

func (s *callStore) RotateSession(ctx context.Context, r tollgate.Rotation) (*tollgate.Session, *tollgate.User, error) {
	s.note("RotateSession")
	return s.Store.RotateSession(ctx, r)
}

func (s *callStore) TouchSession(ctx context.Context, id string, at time.Time) error {
	s.note("TouchSession")
	return s.Store.TouchSession(ctx, id, at)
}

func (s *callStore) RevokeSession(ctx context.Context, id string, at time.Time, reason string) (bool, error) {
	s.note("RevokeSession")
	return s.Store.RevokeSession(ctx, id, at, reason)
}

func (s *callStore) LoginFailures(ctx context.Context, key string) (tollgate.LoginFailures, error) {
	s.note("LoginFailures")
	return s.Store.LoginFailures(ctx, key)
}

func (s *callStore) RecordLoginFailure(ctx context.Context, key string, now time.Time, window time.Duration, limit int, lockout time.Duration) (tollgate.LoginFailures, error) {
	s.note("RecordLoginFailure")
	return s.Store.RecordLoginFailure(ctx, key, now, window, limit, lockout)
}

func (s *callStore) ResetLoginFailures(ctx context.Context, key string) error {
	s.note("ResetLoginFailures")
	return s.Store.ResetLoginFailures(ctx, key)
}

// refusingStore answers the first refusals rotations with
// ErrRotationConflict without changing anything, as a store does when the
// user was inactive at that instant.
type refusingStore struct {
	tollgate.Store
	mu       sync.Mutex
	refusals int
}

func (s *refusingStore) RotateSession(ctx context.Context, r tollgate.Rotation) (*tollgate.Session, *tollgate.User, error) {
	s.mu.Lock()
	refuse := s.refusals > 0
	s.refusals--
	s.mu.Unlock()
	if refuse {
		return nil, nil, tollgate.ErrRotationConflict
	}
	return s.Store.RotateSession(ctx, r)
}

// roleHook is a claims hook that names the user it was given.
func roleHook(_ context.Context, u *tollgate.User) (map[string]any, error) {
	return map[string]any{"role": "user:" + u.Username}, nil
}

// ---------------------------------------------------------------- flush

// countingStore records the batches DeleteExpiredSessions is asked for.
type countingStore struct {
	tollgate.Store
	mu      sync.Mutex
	batches []int // rows deleted by each call
}

func (s *countingStore) DeleteExpiredSessions(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := s.Store.DeleteExpiredSessions(ctx, before, limit)
	s.mu.Lock()
	s.batches = append(s.batches, n)
	s.mu.Unlock()
	return n, err
}

var flushCases = []serviceCase{
	{"FlushExpired_RemovesOnlyExpiredInBatches", func(t *testing.T, h *harness) {
		cs := &countingStore{Store: h.store}
		svc := h.serviceOver(cs, nil)
		h.user("alice")
		var old []*tollgate.Pair
		for range 7 {
			old = append(old, h.login(svc, "alice"))
		}
		h.clock.Advance(30 * time.Minute)
		var live []*tollgate.Pair
		for range 3 {
			live = append(live, h.login(svc, "alice"))
		}
		// A revoked but unexpired session stays: its tokens could still
		// be presented, and must still be refused as blacklisted.
		revoked := h.login(svc, "alice")
		if err := svc.Logout(t.Context(), revoked.Refresh, info); err != nil {
			t.Fatal(err)
		}
		h.clock.Set(old[0].RefreshExpiresAt) // exactly the old ones' expiry
		n, err := svc.FlushExpired(t.Context(), 3)
		if err != nil || n != len(old) {
			t.Fatalf("FlushExpired = %d, %v; want %d", n, err, len(old))
		}
		if fmt.Sprint(cs.batches) != "[3 3 1]" {
			t.Errorf("batches deleted %v; want [3 3 1]", cs.batches)
		}
		for _, p := range old {
			if _, err := h.store.Session(t.Context(), p.SessionID); !errors.Is(err, tollgate.ErrSessionNotFound) {
				t.Errorf("expired session %s after flush: %v; want ErrSessionNotFound", p.SessionID, err)
			}
		}
		for _, p := range live {
			h.refresh(svc, p.Refresh)
		}
		_, err = svc.Refresh(t.Context(), revoked.Refresh, info)
		wantErr(t, "revoked, unexpired session after flush", err, tollgate.ErrTokenBlacklisted)
		if n, err := svc.FlushExpired(t.Context(), 3); err != nil || n != 0 {
			t.Errorf("second FlushExpired = %d, %v; want 0", n, err)
		}
	}},
}

// ---------------------------------------------------------------- cross-instance

var crossInstanceCases = []serviceCase{
	{"CrossInstance_ReuseThroughOtherInstanceKillsFamilyForBoth", func(t *testing.T, h *harness) {
		eventsB := &recorder{}
		a := h.svc
		b := h.service(func(c *tollgate.Config) { c.Events = eventsB })
		h.user("alice")
		p0 := h.login(a, "alice")
		h.clock.Advance(time.Minute)
		p1 := h.refresh(a, p0.Refresh)
		h.clock.Advance(time.Minute)
		p2 := h.refresh(b, p1.Refresh) // rotation continues on the other instance
		h.clock.Advance(time.Minute)
		_, err := a.Refresh(t.Context(), p1.Refresh, info)
		wantErr(t, "replay on A of a token B rotated", err, tollgate.ErrTokenReused)
		_, err = b.Refresh(t.Context(), p0.Refresh, info)
		wantErr(t, "replay on B of an older token", err, tollgate.ErrTokenBlacklisted)
		for name, svc := range map[string]*tollgate.Service{"A": a, "B": b} {
			_, err := svc.Refresh(t.Context(), p2.Refresh, info)
			wantErr(t, "current token on "+name+" after reuse", err, tollgate.ErrTokenBlacklisted)
			_, err = svc.Verify(t.Context(), p2.Refresh)
			wantErr(t, "Verify on "+name+" after reuse", err, tollgate.ErrTokenBlacklisted)
			if revoked, err := svc.SessionRevoked(t.Context(), p0.SessionID); err != nil || !revoked {
				t.Errorf("SessionRevoked on %s = %v, %v; want true", name, revoked, err)
			}
		}
		h.wantRevoked(p0.SessionID, tollgate.RevokeReuse)
		h.wantEvents(h.events, tollgate.EventRefreshTokenReused, p0.SessionID, 1)
		h.wantEvents(eventsB, tollgate.EventRefreshTokenReused, p0.SessionID, 0)
	}},
	{"CrossInstance_GraceReplayOnOtherInstanceGetsSameSuccessor", func(t *testing.T, h *harness) {
		// B knows the successor only from the session row A wrote: the
		// row must hold everything the token is made of.
		grace := func(c *tollgate.Config) { c.RefreshGraceWindow = graceWindow }
		a, b := h.service(grace), h.service(grace)
		h.user("alice")
		p0 := h.login(a, "alice")
		h.clock.Advance(time.Minute)
		p1 := h.refresh(a, p0.Refresh)
		h.clock.Advance(time.Second)
		if got := h.refresh(b, p0.Refresh); got.Refresh != p1.Refresh {
			t.Errorf("replay on B inside the window got %q; want A's successor %q", got.Refresh, p1.Refresh)
		}
		if _, err := b.Verify(t.Context(), p0.Refresh); err != nil {
			t.Errorf("Verify on B of the just-rotated token inside the window: %v", err)
		}
		h.clock.Advance(graceWindow)
		if _, err := b.Verify(t.Context(), p0.Refresh); !errors.Is(err, tollgate.ErrTokenBlacklisted) {
			t.Errorf("Verify on B after the window: %v; want ErrTokenBlacklisted", err)
		}
		h.wantLive(p0.SessionID)
	}},
	{"CrossInstance_ConcurrentRefreshOnTwoInstancesOneWins", func(t *testing.T, h *harness) {
		a, b := h.svc, h.service(nil)
		h.user("alice")
		p0 := h.login(a, "alice")
		h.clock.Advance(time.Minute)
		errs := race(concurrency, func(i int) error {
			svc := a
			if i%2 == 1 {
				svc = b
			}
			_, err := svc.Refresh(context.Background(), p0.Refresh, info)
			return err
		})
		n := 0
		for i, err := range errs {
			switch {
			case err == nil:
				n++
			case tollgate.ErrorCode(err) != tollgate.ETokenNotValid:
				t.Errorf("refresh %d: %v; want success or %s", i, err, tollgate.ETokenNotValid)
			}
		}
		if n != 1 {
			t.Fatalf("%d of %d concurrent refreshes over two instances succeeded; want exactly 1", n, concurrency)
		}
		h.wantRevoked(p0.SessionID, tollgate.RevokeReuse)
	}},
}
