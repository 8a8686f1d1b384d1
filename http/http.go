// Package http is Tollgate's auth HTTP API: thin handlers over
// *tollgate.Service that speak the wire contract of Django REST Framework +
// SimpleJWT (status codes, field names and error codes), so front-ends
// written for that stack keep working.
//
// Every error is rendered by middleware.WriteError, the one mapping from
// error codes to statuses. Nothing a client sends produces a 5xx: bodies are
// size-limited and decoded strictly, unknown paths get a JSON 404 and wrong
// methods a JSON 405 with an Allow header.
package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/middleware"
)

// Defaults applied by NewHandler.
const (
	DefaultPrefix       = "/api/auth/"
	DefaultMaxBodyBytes = 64 << 10
	// readyTimeout bounds a readiness probe so a hung database answers 503
	// rather than holding the prober's connection.
	readyTimeout = 2 * time.Second
)

// Config configures the handler returned by NewHandler.
type Config struct {
	// Service is the core; required.
	Service *tollgate.Service
	// Prefix is where the auth API is mounted; default "/api/auth/".
	Prefix string
	// LoginLimiter limits POST token/ per client IP, and password changes
	// per user (keys "password_change:<id>"); nil means no limit. cmd
	// configures 5/min.
	LoginLimiter tollgate.Limiter
	// RefreshLimiter limits token/refresh/, token/verify/ and logout/ per
	// client IP; nil means no limit.
	RefreshLimiter tollgate.Limiter
	// TrustedProxies are the peers whose X-Forwarded-For is believed. With
	// none, the socket peer is the client.
	TrustedProxies []netip.Prefix
	// AccessRevocation makes the authentication middleware refuse access
	// tokens of revoked sessions (one store read per request, unless
	// Revocations caches).
	AccessRevocation bool
	// Revocations answers "is this session revoked?" when AccessRevocation
	// is on; default the Service (a store read per request). A deployment
	// of several instances gives the Redis fan-out (redis.Revocations), so
	// each instance learns of another's revocations within a second without
	// a database read per request.
	Revocations middleware.RevocationChecker
	// HeaderName and HeaderTypes say how the server's own authenticated
	// endpoints (user/, sessions/, logout/all/, password/change/) read the
	// access token: SimpleJWT's AUTH_HEADER_NAME and AUTH_HEADER_TYPES.
	// Defaults "Authorization" and ["Bearer"].
	HeaderName  string
	HeaderTypes []string
	// MaxBodyBytes bounds request bodies; default 64 KiB.
	MaxBodyBytes int64
	// Ready reports readiness for /readyz; default Service.Store().Ping.
	Ready func(ctx context.Context) error
	// Metrics, when non-nil, is served at GET /metrics.
	Metrics http.Handler
	// Extra adds routes owned by other packages, keyed by ServeMux pattern
	// (e.g. "/.well-known/jwks.json"). A pattern without a method is served
	// for GET (and HEAD) only, so other methods get the JSON 405.
	Extra map[string]http.Handler
	// Events receives rate_limited events raised by this layer; may be nil.
	Events tollgate.EventSink
	// Logger receives internal errors; nil discards them. Tokens and
	// passwords are never logged.
	Logger *slog.Logger
	// Now is the clock of this layer; nil means time.Now. Nothing here
	// depends on time yet (expiry lives in the token codec and the core,
	// rate windows in the Limiter); it is kept so tests and future
	// time-dependent behaviour share one injected clock.
	Now func() time.Time
}

// server holds the configured handler state.
type server struct {
	svc      *tollgate.Service
	cfg      Config
	prefix   string
	maxBody  int64
	mux      *http.ServeMux
	auth     func(http.Handler) http.Handler
	logger   *slog.Logger
	events   tollgate.EventSink
	ready    func(context.Context) error
	loginKey string // name of the login field: "username" or "email"
	// revocations is the checker of access tokens' sessions; nil unless
	// AccessRevocation is on.
	revocations middleware.RevocationChecker
}

// NewHandler returns the auth API as one http.Handler. It fails when the
// configuration is unusable (no service, a bad prefix, a conflicting Extra
// route), so mistakes surface at start-up.
func NewHandler(cfg Config) (http.Handler, error) {
	if cfg.Service == nil {
		return nil, errors.New("http: Config.Service is required")
	}
	s := &server{svc: cfg.Service, cfg: cfg, prefix: cfg.Prefix, maxBody: cfg.MaxBodyBytes, logger: cfg.Logger, events: cfg.Events, ready: cfg.Ready}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if !strings.HasPrefix(s.prefix, "/") || strings.ContainsAny(s.prefix, " {}") {
		return nil, fmt.Errorf("http: Prefix %q must be a path starting with /", cfg.Prefix)
	}
	if !strings.HasSuffix(s.prefix, "/") {
		s.prefix += "/"
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.events == nil {
		s.events = tollgate.EventSinkFunc(func(context.Context, tollgate.Event) {})
	}
	if s.ready == nil {
		s.ready = cfg.Service.Store().Ping
	}
	if s.cfg.Now == nil {
		s.cfg.Now = time.Now
	}
	s.loginKey = string(cfg.Service.Config().LoginField)

	mwCfg := middleware.Config{
		Tokens:      cfg.Service.Tokens(),
		Users:       cfg.Service,
		HeaderName:  cfg.HeaderName,
		HeaderTypes: cfg.HeaderTypes,
		Logger:      s.logger,
	}
	if cfg.AccessRevocation {
		mwCfg.Revocations = cfg.Revocations
		if mwCfg.Revocations == nil {
			mwCfg.Revocations = cfg.Service
		}
	}
	s.revocations = mwCfg.Revocations
	auth, err := middleware.New(mwCfg)
	if err != nil {
		return nil, fmt.Errorf("http: authentication middleware: %w", err)
	}
	s.auth = auth

	if err := s.routes(); err != nil {
		return nil, err
	}
	return s, nil
}

// routes registers every endpoint. ServeMux panics on a bad or conflicting
// pattern; that is turned into an error for NewHandler.
func (s *server) routes() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("http: registering routes: %v", r)
		}
	}()
	mux := http.NewServeMux()
	p := s.prefix
	// "{$}" anchors each pattern: without it a trailing slash would match
	// every path below it.
	mux.HandleFunc("POST "+p+"token/{$}", s.handleObtain)
	mux.HandleFunc("POST "+p+"token/refresh/{$}", s.handleRefresh)
	mux.HandleFunc("POST "+p+"token/verify/{$}", s.handleVerify)
	mux.HandleFunc("POST "+p+"logout/{$}", s.handleLogout)
	mux.Handle("POST "+p+"logout/all/{$}", s.auth(http.HandlerFunc(s.handleLogoutAll)))
	mux.Handle("GET "+p+"user/{$}", s.auth(http.HandlerFunc(s.handleUser)))
	mux.Handle("GET "+p+"sessions/{$}", s.auth(http.HandlerFunc(s.handleSessions)))
	mux.Handle("DELETE "+p+"sessions/{id}/{$}", s.auth(http.HandlerFunc(s.handleRevokeSession)))
	mux.Handle("POST "+p+"password/change/{$}", s.auth(http.HandlerFunc(s.handlePasswordChange)))
	mux.HandleFunc("GET /healthz", s.handleHealthz)
	mux.HandleFunc("GET /readyz", s.handleReadyz)
	if s.cfg.Metrics != nil {
		mux.Handle("GET /metrics", s.cfg.Metrics)
	}
	for pattern, h := range s.cfg.Extra {
		if h == nil {
			return fmt.Errorf("http: Extra route %q has a nil handler", pattern)
		}
		if !strings.Contains(strings.TrimSpace(pattern), " ") {
			pattern = "GET " + pattern
		}
		mux.Handle(pattern, h)
	}
	s.mux = mux
	return nil
}

// ServeHTTP routes r, answering unknown paths and wrong methods with JSON
// in the API's error shape rather than ServeMux's plain text, and turning a
// handler panic into a logged 500 instead of a dropped connection.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.logger.ErrorContext(r.Context(), "handler panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
			middleware.WriteError(w, r, nil, &tollgate.Error{Code: tollgate.EInternal, Message: "Internal server error."})
		}
	}()
	if _, pattern := s.mux.Handler(r); pattern == "" {
		s.serveUnmatched(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// serveUnmatched runs ServeMux's own answer for a request no pattern
// matches (404, 405 or a path-cleaning redirect) into a buffer, and rewrites
// 404 and 405 as JSON errors, keeping the Allow header ServeMux computed.
func (s *server) serveUnmatched(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{header: http.Header{}}
	h, _ := s.mux.Handler(r)
	h.ServeHTTP(rec, r)
	switch rec.status {
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", rec.header.Get("Allow"))
		s.writeError(w, r, tollgate.Errorf(middleware.EMethodNotAllowed, "Method %q not allowed.", truncate(r.Method, 20)))
	case http.StatusNotFound, 0:
		s.writeError(w, r, tollgate.Errorf(tollgate.ENotFound, "Not found."))
	default:
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.status)
		_, _ = w.Write(rec.body.Bytes())
	}
}

// recorder captures ServeMux's fallback response.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// writeError renders err through the one mapping, middleware.WriteError.
// A throttled error gets DRF's wording, which names the wait in seconds.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *tollgate.Error
	if errors.As(err, &e) && e.Code == tollgate.ERateLimited {
		secs := retrySeconds(e.RetryAfter)
		err = &tollgate.Error{
			Code:       tollgate.ERateLimited,
			Message:    fmt.Sprintf("Request was throttled. Expected available in %d seconds.", secs),
			RetryAfter: time.Duration(secs) * time.Second,
		}
	}
	middleware.WriteError(w, r, s.logger, err)
}

// retrySeconds rounds a wait up to whole seconds, never below one: a client
// told to retry in 0 seconds would retry at once and be refused again.
func retrySeconds(d time.Duration) int {
	secs := int(math.Ceil(d.Seconds()))
	if secs < 1 {
		secs = 1
	}
	return secs
}

// writeJSON writes v with status. Auth responses are never cacheable: they
// carry tokens or per-user data.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// requestInfo is what the core records of the client.
func (s *server) requestInfo(r *http.Request) tollgate.RequestInfo {
	return tollgate.RequestInfo{IP: clientIP(r, s.cfg.TrustedProxies), UserAgent: truncate(r.UserAgent(), 512)}
}

// allow applies limiter to key. A limiter that fails (its backend is down)
// lets the request through: the per-account lockout in the store still
// guards logins, and an auth outage is worse than a brief lapse in IP
// throttling. The failure is logged.
func (s *server) allow(w http.ResponseWriter, r *http.Request, limiter tollgate.Limiter, scope, key string, info tollgate.RequestInfo) bool {
	if limiter == nil {
		return true
	}
	ok, retry, err := limiter.Allow(r.Context(), key)
	if err != nil {
		s.logger.WarnContext(r.Context(), "rate limiter failed; allowing request", "scope", scope, "err", err)
		return true
	}
	if ok {
		return true
	}
	s.events.Record(r.Context(), tollgate.Event{Type: tollgate.EventRateLimited, IP: info.IP, UserAgent: info.UserAgent, Reason: scope})
	s.writeError(w, r, tollgate.RateLimited(retry))
	return false
}

func (s *server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		s.writeError(w, r, &tollgate.Error{Code: tollgate.EUnavailable, Message: tollgate.ErrUnavailable.Message, Err: err})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
