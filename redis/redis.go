// Package redis holds what Tollgate instances share through Redis when
// TOLLGATE_REDIS_URL is set: rate limits (Limiter, GCRA from
// go-redis/redis_rate) and the fan-out of session revocations
// (Revocations). Redis is an accelerator, never a dependency: while it is
// unreachable both fall back to what a lone instance can do (per-instance
// limits, database revocation checks), log the transition once, and return
// to Redis by themselves when it answers again.
package redis

import (
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Option configures a Limiter or Revocations.
type Option func(*options)

type options struct {
	prefix     string
	logger     *slog.Logger
	now        func() time.Time
	retryEvery time.Duration
}

func newOptions(opts []Option) options {
	o := options{prefix: "tollgate:", logger: slog.Default(), now: time.Now, retryEvery: time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithKeyPrefix puts every Redis key and channel under prefix (default
// "tollgate:"), so several deployments, or several tests, can share one
// Redis without seeing each other.
func WithKeyPrefix(prefix string) Option { return func(o *options) { o.prefix = prefix } }

// WithLogger sets where the down/recovered transitions are logged (default
// slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithClock injects the clock (default time.Now); tests control cache
// expiry and retry pacing with it.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithRetryEvery sets how long, after Redis failed, calls go straight to
// the fallback before Redis is tried again (default one second). It keeps a
// dead Redis from costing every request a failed dial.
func WithRetryEvery(d time.Duration) Option { return func(o *options) { o.retryEvery = d } }

// health tracks whether Redis answers, logs each transition once, and
// paces retries while it is down.
type health struct {
	what   string // what falls back, for the log line
	logger *slog.Logger
	every  time.Duration

	mu      sync.Mutex
	down    bool
	retryAt time.Time
}

// skip reports whether a call should not try Redis now: it failed less
// than every ago.
func (h *health) skip(now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.down && now.Before(h.retryAt)
}

// failed records a Redis error; the first after a healthy spell is logged.
func (h *health) failed(now time.Time, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.retryAt = now.Add(h.every)
	if !h.down {
		h.down = true
		h.logger.Warn("redis unavailable: "+h.what+" fall back", "err", err)
	}
}

// ok records a Redis success; the first after an outage is logged.
func (h *health) ok() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down {
		h.down = false
		h.logger.Info("redis recovered: " + h.what + " use redis again")
	}
}

// isDown reports the current state.
func (h *health) isDown() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.down
}

// NewClient returns a client of the Redis at rawURL
// (redis://[:password@]host:port/db, or rediss:// for TLS) tuned to fail
// fast: when Redis is down a request should fall back within a fraction of
// a second, not wait out go-redis's default five-second dial and three
// retries. Timeouts given in the URL (dial_timeout, read_timeout, ...) win.
func NewClient(rawURL string) (*goredis.Client, error) {
	opt, err := goredis.ParseURL(rawURL)
	if err != nil {
		// The parse error may quote the URL, password included.
		return nil, errors.New("redis: invalid Redis URL")
	}
	q := ""
	if i := strings.IndexByte(rawURL, '?'); i >= 0 {
		q = rawURL[i+1:]
	}
	if !strings.Contains(q, "dial_timeout") {
		opt.DialTimeout = 500 * time.Millisecond
	}
	if !strings.Contains(q, "read_timeout") {
		opt.ReadTimeout = 500 * time.Millisecond
	}
	if !strings.Contains(q, "write_timeout") {
		opt.WriteTimeout = 500 * time.Millisecond
	}
	if !strings.Contains(q, "max_retries") {
		opt.MaxRetries = -1 // a retry would only delay the fallback
	}
	return goredis.NewClient(opt), nil
}
