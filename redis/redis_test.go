package redis_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/internal/faultproxy"
	"github.com/tollgate/tollgate/internal/testclock"
	"github.com/tollgate/tollgate/redis"
	"github.com/tollgate/tollgate/redis/redistest"
)

// newClock is a settable clock for cache expiry and retry pacing.
func newClock() *testclock.Clock { return testclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) }

// logs captures log output so tests can count transition lines.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logs) Count(substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), substr)
}

func (l *logs) Logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// countingLimiter is the in-process fallback: it allows everything and
// counts the calls it answered.
type countingLimiter struct {
	mu    sync.Mutex
	calls int
}

func (c *countingLimiter) Allow(context.Context, string) (bool, time.Duration, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	return true, 0, nil
}

func (c *countingLimiter) Calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// source is the database side of revocation checks.
type source struct {
	mu      sync.Mutex
	revoked map[string]bool
	err     error
	calls   int
}

func newSource() *source { return &source{revoked: map[string]bool{}} }

func (s *source) SessionRevoked(_ context.Context, sid string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	return s.revoked[sid], s.err
}

func (s *source) set(sid string, revoked bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked[sid] = revoked
}

func (s *source) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// eventually polls cond until it holds or d passes: for deliveries that
// happen on another goroutine (a pub/sub message), not for time logic.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// proxiedClient is a fail-fast client that reaches the test Redis through
// a proxy the test can cut.
func proxiedClient(t *testing.T) (*goredis.Client, *faultproxy.Proxy) {
	t.Helper()
	opt := redistest.Options(t)
	p := faultproxy.Start(t, opt.Addr)
	c, err := redis.NewClient("redis://" + p.Addr() + "/" + strconv.Itoa(opt.DB))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, p
}

func runRevocations(t *testing.T, r *redis.Revocations) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func TestLimiter_LimitIsSharedAcrossInstances(t *testing.T) {
	prefix := redistest.Prefix(t)
	fallback := &countingLimiter{}
	a := redis.NewLimiter(redistest.Client(t), 5, time.Minute, fallback, redis.WithKeyPrefix(prefix))
	b := redis.NewLimiter(redistest.Client(t), 5, time.Minute, fallback, redis.WithKeyPrefix(prefix))
	ctx := context.Background()
	instances := []*redis.Limiter{a, b, a, b, a}
	for i, l := range instances {
		ok, _, err := l.Allow(ctx, "198.51.100.7")
		if err != nil || !ok {
			t.Fatalf("attempt %d: ok=%v err=%v; want allowed", i+1, ok, err)
		}
	}
	for _, l := range []*redis.Limiter{a, b} {
		ok, retry, err := l.Allow(ctx, "198.51.100.7")
		if err != nil || ok {
			t.Fatalf("6th attempt: ok=%v err=%v; want refused on every instance", ok, err)
		}
		if retry <= 0 || retry > 12*time.Second {
			t.Errorf("retryAfter = %v; want (0, 12s]: one request is earned back every 12s", retry)
		}
	}
	if ok, _, err := b.Allow(ctx, "198.51.100.8"); err != nil || !ok {
		t.Errorf("another key: ok=%v err=%v; want allowed", ok, err)
	}
	if fallback.Calls() != 0 {
		t.Errorf("fallback answered %d calls with Redis up; want 0", fallback.Calls())
	}
}

func TestLimiter_RedisDownFallsBackLogsOnceAndRecovers(t *testing.T) {
	client, proxy := proxiedClient(t)
	clk := newClock()
	var out logs
	fallback := &countingLimiter{}
	l := redis.NewLimiter(client, 2, time.Minute, fallback,
		redis.WithKeyPrefix(redistest.Prefix(t)), redis.WithClock(clk.Now), redis.WithLogger(out.Logger()))
	ctx := context.Background()
	if ok, _, err := l.Allow(ctx, "k"); !ok || err != nil {
		t.Fatalf("with Redis up: ok=%v err=%v", ok, err)
	}

	proxy.Cut()
	for i := range 3 {
		start := time.Now()
		ok, _, err := l.Allow(ctx, "k")
		if !ok || err != nil {
			t.Fatalf("Redis down, call %d: ok=%v err=%v; want the fallback's answer", i, ok, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Redis down, call %d took %v; want a fast fallback", i, d)
		}
	}
	if fallback.Calls() != 3 || !l.Degraded() {
		t.Errorf("fallback answered %d calls, degraded=%v; want 3, true", fallback.Calls(), l.Degraded())
	}
	if n := out.Count("redis unavailable"); n != 1 {
		t.Errorf("%d 'redis unavailable' log lines; want exactly 1\n%s", n, out.buf.String())
	}

	proxy.Restore()
	clk.Advance(time.Second) // the retry pacing lets the next call try Redis
	// The key had one request left in Redis: the limit carried on where it was.
	if ok, _, err := l.Allow(ctx, "k"); !ok || err != nil {
		t.Fatalf("after recovery: ok=%v err=%v", ok, err)
	}
	if ok, _, _ := l.Allow(ctx, "k"); ok {
		t.Error("third request in Redis allowed; want refused by the shared limit")
	}
	if fallback.Calls() != 3 || l.Degraded() {
		t.Errorf("after recovery the fallback answered %d calls, degraded=%v; want still 3, false", fallback.Calls(), l.Degraded())
	}
	if n := out.Count("redis recovered"); n != 1 {
		t.Errorf("%d 'redis recovered' log lines; want exactly 1", n)
	}
}

func TestLimiter_NoFallbackIsUnavailable(t *testing.T) {
	client, proxy := proxiedClient(t)
	l := redis.NewLimiter(client, 2, time.Minute, nil, redis.WithKeyPrefix(redistest.Prefix(t)), redis.WithLogger(slog.New(slog.DiscardHandler)))
	proxy.Cut()
	_, _, err := l.Allow(context.Background(), "k")
	if !errors.Is(err, tollgate.ErrUnavailable) {
		t.Errorf("Redis down, no fallback: %v; want ErrUnavailable", err)
	}
}

func TestRevocations_RevocationReachesOtherInstanceWithinASecond(t *testing.T) {
	prefix := redistest.Prefix(t)
	src := newSource() // the database never says revoked: only the message can
	clk := newClock()  // frozen: no cached answer expires
	a := redis.NewRevocations(redistest.Client(t), src, redis.WithKeyPrefix(prefix), redis.WithClock(clk.Now))
	b := redis.NewRevocations(redistest.Client(t), src, redis.WithKeyPrefix(prefix), redis.WithClock(clk.Now))
	runRevocations(t, a)
	runRevocations(t, b)
	eventually(t, 5*time.Second, "both subscribed", func() bool { return a.Subscribed() && b.Subscribed() })

	ctx := context.Background()
	if revoked, err := b.SessionRevoked(ctx, "sid-1"); revoked || err != nil {
		t.Fatalf("before: revoked=%v err=%v", revoked, err)
	}
	a.Record(ctx, tollgate.Event{Type: tollgate.EventFamilyRevoked, SessionID: "sid-1"})
	if revoked, _ := a.SessionRevoked(ctx, "sid-1"); !revoked {
		t.Error("the revoking instance itself does not see the revocation at once")
	}
	eventually(t, time.Second, "instance B learns of the revocation", func() bool {
		revoked, err := b.SessionRevoked(ctx, "sid-1")
		return err == nil && revoked
	})
	if revoked, _ := b.SessionRevoked(ctx, "sid-2"); revoked {
		t.Error("another session reported revoked")
	}
}

func TestRevocations_IgnoresOtherEvents(t *testing.T) {
	src := newSource()
	r := redis.NewRevocations(nil, src)
	ctx := context.Background()
	for _, typ := range []string{tollgate.EventLogoutAll, tollgate.EventLoginSucceeded, tollgate.EventRefreshTokenReused} {
		r.Record(ctx, tollgate.Event{Type: typ, SessionID: "sid"})
	}
	if revoked, _ := r.SessionRevoked(ctx, "sid"); revoked {
		t.Error("a non-revocation event marked the session revoked")
	}
}

func TestRevocations_WithoutRedisLiveAnswersExpireWithinASecond(t *testing.T) {
	src := newSource()
	clk := newClock()
	r := redis.NewRevocations(nil, src, redis.WithClock(clk.Now))
	if r.FallbackTTL >= time.Second {
		t.Fatalf("FallbackTTL = %v; want under a second", r.FallbackTTL)
	}
	ctx := context.Background()
	if revoked, err := r.SessionRevoked(ctx, "sid"); revoked || err != nil {
		t.Fatalf("before: revoked=%v err=%v", revoked, err)
	}
	src.set("sid", true) // revoked by another instance, which cannot tell us
	if revoked, _ := r.SessionRevoked(ctx, "sid"); revoked || src.Calls() != 1 {
		t.Errorf("within the TTL: revoked=%v after %d database reads; want the cached false after 1", revoked, src.Calls())
	}
	clk.Advance(r.FallbackTTL)
	if revoked, _ := r.SessionRevoked(ctx, "sid"); !revoked {
		t.Error("after the fallback TTL: not revoked; want the database's answer")
	}
	src.set("sid", false)
	clk.Advance(time.Minute)
	if revoked, _ := r.SessionRevoked(ctx, "sid"); !revoked || src.Calls() != 2 {
		t.Errorf("a revoked answer: revoked=%v after %d reads; want it kept without asking again", revoked, src.Calls())
	}
}

func TestRevocations_DatabaseErrorIsReturnedNotCached(t *testing.T) {
	src := newSource()
	src.err = tollgate.ErrUnavailable
	r := redis.NewRevocations(nil, src, redis.WithClock(newClock().Now))
	ctx := context.Background()
	if _, err := r.SessionRevoked(ctx, "sid"); !errors.Is(err, tollgate.ErrUnavailable) {
		t.Fatalf("err = %v; want ErrUnavailable", err)
	}
	src.err = nil
	if revoked, err := r.SessionRevoked(ctx, "sid"); err != nil || revoked || src.Calls() != 2 {
		t.Errorf("after the database recovers: revoked=%v err=%v reads=%d; want a fresh read", revoked, err, src.Calls())
	}
}

// Redis cut: the subscriber notices, logs once, trusts cached answers only
// for the fallback TTL, and when Redis returns it resubscribes by itself,
// publishes what it could not, and logs once more.
func TestRevocations_RedisCutFallsBackToDatabaseAndRecovers(t *testing.T) {
	prefix := redistest.Prefix(t)
	client, proxy := proxiedClient(t)
	src := newSource()
	clk := newClock()
	var out logs
	cut := redis.NewRevocations(client, src, redis.WithKeyPrefix(prefix), redis.WithClock(clk.Now),
		redis.WithLogger(out.Logger()), redis.WithRetryEvery(50*time.Millisecond))
	other := redis.NewRevocations(redistest.Client(t), src, redis.WithKeyPrefix(prefix), redis.WithClock(clk.Now))
	runRevocations(t, cut)
	runRevocations(t, other)
	eventually(t, 5*time.Second, "both subscribed", func() bool { return cut.Subscribed() && other.Subscribed() })
	ctx := context.Background()
	if revoked, _ := cut.SessionRevoked(ctx, "sid-live"); revoked {
		t.Fatal("sid-live revoked before anything happened")
	}

	proxy.Cut()
	eventually(t, 3*time.Second, "the subscriber notices the cut", func() bool { return !cut.Subscribed() })
	// Its cached "live" answers were dropped: the database is asked again,
	// and the new answer is trusted only for the fallback TTL.
	reads := src.Calls()
	src.set("sid-live", true)
	if revoked, _ := cut.SessionRevoked(ctx, "sid-live"); !revoked || src.Calls() != reads+1 {
		t.Errorf("while cut: revoked=%v reads=%d; want a fresh database read saying revoked", revoked, src.Calls()-reads)
	}
	// A revocation made on the cut instance cannot be published yet.
	cut.Record(ctx, tollgate.Event{Type: tollgate.EventFamilyRevoked, SessionID: "sid-cut"})
	if n := out.Count("redis unavailable"); n != 1 {
		t.Errorf("%d 'redis unavailable' lines; want exactly 1\n%s", n, out.buf.String())
	}

	proxy.Restore()
	eventually(t, 5*time.Second, "the subscriber comes back", cut.Subscribed)
	eventually(t, time.Second, "the other instance hears of the revocation made while cut", func() bool {
		revoked, _ := other.SessionRevoked(ctx, "sid-cut")
		return revoked
	})
	other.Record(ctx, tollgate.Event{Type: tollgate.EventFamilyRevoked, SessionID: "sid-after"})
	eventually(t, time.Second, "messages reach the recovered instance", func() bool {
		revoked, _ := cut.SessionRevoked(ctx, "sid-after")
		return revoked
	})
	if n := out.Count("redis recovered"); n != 1 {
		t.Errorf("%d 'redis recovered' lines; want exactly 1\n%s", n, out.buf.String())
	}
}
