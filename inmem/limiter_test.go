package inmem

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a test clock advanced by hand.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time          { return c.now }
func (c *clock) Advance(d time.Duration) { c.now = c.now.Add(d) }

func newTestLimiter(opts ...Option) (*Limiter, *clock) {
	clk := &clock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	return NewLimiter(5, time.Minute, append([]Option{WithClock(clk.Now)}, opts...)...), clk
}

func allow(t *testing.T, l *Limiter, key string) (bool, time.Duration) {
	t.Helper()
	ok, retry, err := l.Allow(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return ok, retry
}

// takeAll asserts that key has exactly n requests left right now.
func takeAll(t *testing.T, l *Limiter, key string, n int) {
	t.Helper()
	for i := range n {
		if ok, retry := allow(t, l, key); !ok {
			t.Fatalf("%s: request %d of %d refused (retry after %v)", key, i+1, n, retry)
		}
	}
	if ok, _ := allow(t, l, key); ok {
		t.Fatalf("%s: request %d allowed, want only %d", key, n+1, n)
	}
}

func assertNear(t *testing.T, got, want time.Duration) {
	t.Helper()
	if d := got - want; d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("retryAfter = %v, want %v", got, want)
	}
}

func TestLimiter_FivePerMinuteRefusesTheSixthWithRetryAfter(t *testing.T) {
	l, _ := newTestLimiter()
	takeAll(t, l, "1.2.3.4", 5)
	ok, retry := allow(t, l, "1.2.3.4")
	if ok {
		t.Fatal("sixth request allowed")
	}
	assertNear(t, retry, 12*time.Second) // one token every 60s/5
}

func TestLimiter_RefusedRequestsDoNotPushRetryBack(t *testing.T) {
	l, clk := newTestLimiter()
	takeAll(t, l, "k", 5)
	for range 10 {
		if ok, retry := allow(t, l, "k"); ok {
			t.Fatal("allowed while empty")
		} else {
			assertNear(t, retry, 12*time.Second)
		}
	}
	clk.Advance(12 * time.Second)
	takeAll(t, l, "k", 1)
	_, retry := allow(t, l, "k")
	assertNear(t, retry, 12*time.Second)
}

func TestLimiter_Refills(t *testing.T) {
	l, clk := newTestLimiter()
	takeAll(t, l, "k", 5)
	clk.Advance(6 * time.Second)
	_, retry := allow(t, l, "k")
	assertNear(t, retry, 6*time.Second)
	clk.Advance(30 * time.Second) // 36s: three tokens back
	takeAll(t, l, "k", 3)
	clk.Advance(10 * time.Minute) // refills to the burst, never beyond
	takeAll(t, l, "k", 5)
}

func TestLimiter_KeysAreIndependent(t *testing.T) {
	l, _ := newTestLimiter()
	takeAll(t, l, "a", 5)
	takeAll(t, l, "b", 5)
	if ok, _ := allow(t, l, "a"); ok {
		t.Fatal("a allowed after b's requests")
	}
}

func TestLimiter_IdleBucketsAreEvicted(t *testing.T) {
	l, clk := newTestLimiter()
	for i := range 100 {
		allow(t, l, fmt.Sprint("ip-", i))
	}
	if n := l.Len(); n != 100 {
		t.Fatalf("Len = %d, want 100", n)
	}
	clk.Advance(30 * time.Second)
	takeAll(t, l, "busy", 5) // drains a bucket that must survive
	clk.Advance(30 * time.Second)
	allow(t, l, "other") // any call sweeps
	if n := l.Len(); n != 2 {
		t.Fatalf("Len = %d after a full period, want 2 (busy and other)", n)
	}
	takeAll(t, l, "busy", 2) // 30s refilled 2.5 tokens; a reset bucket would hold 5
}

func TestLimiter_MaxKeysBoundsMemoryEvictingLeastRecentlyUsed(t *testing.T) {
	l, _ := newTestLimiter(WithMaxKeys(3))
	takeAll(t, l, "a", 5)
	allow(t, l, "b")
	allow(t, l, "c")
	allow(t, l, "a") // a is now the most recently used; b the least
	for i := range 1000 {
		allow(t, l, fmt.Sprint("spray-", i))
		if n := l.Len(); n > 3 {
			t.Fatalf("Len = %d, want at most 3", n)
		}
	}
	// Once the spray pushed a out, it starts afresh: the documented cost of the bound.
	l, _ = newTestLimiter(WithMaxKeys(3))
	takeAll(t, l, "a", 5)
	allow(t, l, "b")
	allow(t, l, "c")
	allow(t, l, "a")
	allow(t, l, "d") // evicts b, keeps a
	if ok, _ := allow(t, l, "a"); ok {
		t.Fatal("a, recently used, was evicted instead of b")
	}
	if n := l.Len(); n != 3 {
		t.Fatalf("Len = %d, want 3", n)
	}
}

func TestLimiter_ConcurrentCallersShareOneBucket(t *testing.T) {
	l, _ := newTestLimiter() // the clock stands still: no refill
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if ok, _, _ := l.Allow(context.Background(), "k"); ok {
					allowed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := allowed.Load(); n != 5 {
		t.Fatalf("%d requests allowed, want 5", n)
	}
}

func TestNewLimiter_PanicsOnNonPositiveRate(t *testing.T) {
	for _, tt := range []struct {
		rate int
		per  time.Duration
	}{{0, time.Minute}, {-1, time.Minute}, {5, 0}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewLimiter(%d, %v) did not panic", tt.rate, tt.per)
				}
			}()
			NewLimiter(tt.rate, tt.per)
		}()
	}
}
