package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate"
	tghttp "github.com/tollgate/tollgate/http"
	"github.com/tollgate/tollgate/internal/testclock"
	"github.com/tollgate/tollgate/password"
	"github.com/tollgate/tollgate/sqlite"
	"github.com/tollgate/tollgate/token"
)

// The end-to-end tests run the real handler behind a real HTTP server on a
// temporary SQLite file, with the core's and the token codec's clocks both
// driven by a testClock: no test sleeps.

var testKey = []byte("tollgate-http-tests-hs256-key-0123456789")

// start is the tests' "now"; whole seconds, as the core truncates.
var start = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// newClock is the controllable clock shared by every component of an env.
func newClock() *testclock.Clock { return testclock.New(start) }

// eventLog is an EventSink that keeps every event.
type eventLog struct {
	mu     sync.Mutex
	events []tollgate.Event
}

func (l *eventLog) Record(_ context.Context, e tollgate.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) all() []tollgate.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]tollgate.Event(nil), l.events...)
}

func (l *eventLog) count(typ string) int {
	n := 0
	for _, e := range l.all() {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// syncBuffer is a goroutine-safe log destination.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// envOptions is what a test may change before the env starts.
type envOptions struct {
	svc    tollgate.Config
	http   tghttp.Config
	leeway time.Duration
	clock  *testclock.Clock // for limiters a test builds
	// hashParams are the argon2id parameters; zero means the insecure,
	// fast test parameters.
	hashParams password.Params
	// keys signs and verifies tokens; nil means HS256 with testKey.
	keys token.KeySet
}

type env struct {
	t      testing.TB
	clock  *testclock.Clock
	events *eventLog
	logs   *syncBuffer
	opts   envOptions
	dbPath string

	store   tollgate.Store
	svc     *tollgate.Service
	handler http.Handler
	srv     *httptest.Server

	mu      sync.Mutex
	secrets []string // every token and password the test handled
}

// newEnv starts a server over a fresh SQLite file. Each option edits the
// configuration first. On cleanup it checks that no event and no log line
// carries a token or a password.
func newEnv(t testing.TB, options ...func(*envOptions)) *env {
	t.Helper()
	o := envOptions{svc: tollgate.DefaultConfig(), clock: newClock()}
	for _, f := range options {
		f(&o)
	}
	e := &env{
		t: t, clock: o.clock, events: &eventLog{}, logs: &syncBuffer{}, opts: o,
		dbPath: filepath.Join(t.TempDir(), "tollgate.db"),
	}
	t.Cleanup(e.checkNoSecretsLeaked)
	e.startServer()
	t.Cleanup(e.stopServer)
	return e
}

func (e *env) startServer() {
	e.t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, e.dbPath)
	if err != nil {
		e.t.Fatalf("sqlite.Open: %v", err)
	}
	params := e.opts.hashParams
	if params == (password.Params{}) {
		params = password.InsecureTestParams()
	}
	hasher, err := password.New(params, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	keys := e.opts.keys
	if keys == nil {
		if keys, err = token.NewHMACKeySet("HS256", testKey); err != nil {
			e.t.Fatal(err)
		}
	}
	codec, err := token.New(token.Config{Keys: keys, Leeway: e.opts.leeway, Now: e.clock.Now})
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := e.opts.svc
	cfg.Now = e.clock.Now
	cfg.Events = e.events
	svc, err := tollgate.NewService(store, codec, hasher, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	hcfg := e.opts.http
	hcfg.Service = svc
	hcfg.Events = e.events
	hcfg.Logger = slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	hcfg.Now = e.clock.Now
	h, err := tghttp.NewHandler(hcfg)
	if err != nil {
		e.t.Fatalf("NewHandler: %v", err)
	}
	e.store, e.svc, e.handler, e.srv = store, svc, h, httptest.NewServer(h)
}

func (e *env) stopServer() {
	if e.srv != nil {
		e.srv.Close()
		e.srv = nil
	}
	if e.store != nil {
		e.store.Close()
		e.store = nil
	}
}

// restart stops the server and the database, and starts both again on the
// same file: what survives is what was persisted.
func (e *env) restart() {
	e.t.Helper()
	e.stopServer()
	e.startServer()
}

func (e *env) secret(s ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.secrets = append(e.secrets, s...)
}

// checkNoSecretsLeaked fails the test when an event or a log line contains
// any token or password the test handled.
func (e *env) checkNoSecretsLeaked() {
	e.mu.Lock()
	secrets := append([]string(nil), e.secrets...)
	e.mu.Unlock()
	logs := e.logs.String()
	for _, s := range secrets {
		if len(s) < 8 {
			continue
		}
		if strings.Contains(logs, s) {
			e.t.Errorf("a log line contains a secret (%.12s...)", s)
		}
		for _, ev := range e.events.all() {
			if strings.Contains(fmt.Sprintf("%+v", ev), s) {
				e.t.Errorf("event %s contains a secret (%.12s...)", ev.Type, s)
			}
		}
	}
}

// createUser makes an active user with a password through the core.
func (e *env) createUser(username, email, pw string) *tollgate.User {
	e.t.Helper()
	u, err := e.svc.CreateUser(context.Background(), username, email, pw, false)
	if err != nil {
		e.t.Fatalf("CreateUser(%q): %v", username, err)
	}
	e.secret(pw)
	return u
}

// response is a finished HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

// code is the "code" of an error body.
func (r response) code(t testing.TB) string {
	t.Helper()
	c, _ := r.json(t)["code"].(string)
	return c
}

type reqOption func(*http.Request)

func withBearer(tok string) reqOption {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

func withHeader(k, v string) reqOption {
	return func(r *http.Request) { r.Header.Set(k, v) }
}

// call sends one request; path is relative to the API prefix unless it
// starts with "/". body is JSON-encoded unless it is a string, sent as is
// (with a JSON content type unless an option sets another).
func (e *env) call(method, path string, body any, opts ...reqOption) response {
	e.t.Helper()
	if !strings.HasPrefix(path, "/") {
		path = "/api/auth/" + path
	}
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(req)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	// Nothing a client sends may produce a 5xx; only readiness reports one,
	// when the database is down.
	if res.StatusCode >= 500 && path != "/readyz" {
		e.t.Errorf("%s %s: status %d, body %s", method, path, res.StatusCode, b)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func (e *env) postForm(path string, vals url.Values) response {
	e.t.Helper()
	return e.call(http.MethodPost, path, vals.Encode(), withHeader("Content-Type", "application/x-www-form-urlencoded"))
}

// login obtains a pair and fails the test unless it gets one.
func (e *env) login(username, pw string, opts ...reqOption) (access, refresh string) {
	e.t.Helper()
	res := e.call(http.MethodPost, "token/", map[string]string{"username": username, "password": pw}, opts...)
	if res.status != http.StatusOK {
		e.t.Fatalf("login %q: status %d, body %s", username, res.status, res.body)
	}
	m := res.json(e.t)
	access, _ = m["access"].(string)
	refresh, _ = m["refresh"].(string)
	if access == "" || refresh == "" {
		e.t.Fatalf("login %q: body %s lacks a token", username, res.body)
	}
	e.secret(access, refresh)
	return access, refresh
}

// refresh posts a refresh token and returns the exchange.
func (e *env) refresh(tok string) response {
	e.t.Helper()
	res := e.call(http.MethodPost, "token/refresh/", map[string]string{"refresh": tok})
	if res.status == http.StatusOK {
		m := res.json(e.t)
		for _, k := range []string{"access", "refresh"} {
			if s, ok := m[k].(string); ok {
				e.secret(s)
			}
		}
	}
	return res
}

// mustRefresh refreshes and returns the new pair.
func (e *env) mustRefresh(tok string) (access, refresh string) {
	e.t.Helper()
	res := e.refresh(tok)
	if res.status != http.StatusOK {
		e.t.Fatalf("refresh: status %d, body %s", res.status, res.body)
	}
	m := res.json(e.t)
	access, _ = m["access"].(string)
	refresh, _ = m["refresh"].(string)
	return access, refresh
}

// wantError asserts an error response's status and code.
func wantError(t testing.TB, res response, status int, code string) {
	t.Helper()
	if res.status != status {
		t.Fatalf("status = %d, want %d; body %s", res.status, status, res.body)
	}
	if got := res.code(t); got != code {
		t.Fatalf("code = %q, want %q; body %s", got, code, res.body)
	}
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want JSON", ct)
	}
}
