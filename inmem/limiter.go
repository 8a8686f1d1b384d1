// Package inmem holds in-process implementations of Tollgate's interfaces
// for a single instance: Limiter, a per-key token-bucket rate limiter over
// golang.org/x/time/rate. Several instances behind a load balancer need the
// shared limiter of the redis package instead.
package inmem

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/tollgate/tollgate"
)

// DefaultMaxKeys bounds the number of keys a Limiter tracks unless
// WithMaxKeys says otherwise. A bucket is about 200 bytes, so the default
// costs at most ~13 MB.
const DefaultMaxKeys = 65536

// Limiter allows rate requests per period for each key (an IP, a login
// name), with bursts of up to rate: a token bucket per key. It is safe for
// concurrent use.
//
// Memory is bounded: a bucket idle long enough to have refilled is dropped
// (a fresh one is identical), and when MaxKeys keys are tracked the least
// recently used bucket is dropped to make room, which forgets that key's
// past requests; size MaxKeys above the number of keys active within one
// period.
type Limiter struct {
	limit   rate.Limit
	burst   int
	idle    time.Duration // after this long unused, a bucket is full again
	maxKeys int
	now     func() time.Time

	mu      sync.Mutex
	buckets map[string]*list.Element // of *bucket
	lru     list.List                // *bucket, most recently used first
}

type bucket struct {
	key      string
	lim      *rate.Limiter
	lastUsed time.Time
}

var _ tollgate.Limiter = (*Limiter)(nil)

// Option configures a Limiter.
type Option func(*Limiter)

// WithClock sets the clock; tests inject one to control time without
// sleeping. The default is time.Now.
func WithClock(now func() time.Time) Option { return func(l *Limiter) { l.now = now } }

// WithMaxKeys bounds the number of keys tracked at once (default
// DefaultMaxKeys). n < 1 is treated as 1.
func WithMaxKeys(n int) Option {
	return func(l *Limiter) { l.maxKeys = max(n, 1) }
}

// NewLimiter returns a limiter allowing rate requests per per for each key,
// e.g. NewLimiter(5, time.Minute) for the SPEC's login limit. It panics when
// rate or per is not positive: that is a programming error, which the
// config package's validation rules out for user settings.
func NewLimiter(rate int, per time.Duration, opts ...Option) *Limiter {
	if rate <= 0 || per <= 0 {
		panic(fmt.Sprintf("inmem: NewLimiter(%d, %v): rate and period must be positive", rate, per))
	}
	l := &Limiter{
		limit:   ratePer(rate, per),
		burst:   rate,
		idle:    per, // a drained bucket of `rate` tokens refills in one period
		maxKeys: DefaultMaxKeys,
		now:     time.Now,
		buckets: make(map[string]*list.Element),
	}
	for _, o := range opts {
		o(l)
	}
	return l
}

func ratePer(n int, per time.Duration) rate.Limit {
	return rate.Limit(float64(n) / per.Seconds())
}

// Allow takes one request from key's bucket. When the bucket is empty it
// reports false and how long until the next request would be allowed; the
// refused request takes nothing, so a client that keeps hammering is not
// pushed further back than the refill time. It never fails.
func (l *Limiter) Allow(_ context.Context, key string) (ok bool, retryAfter time.Duration, err error) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key, now)
	r := b.lim.ReserveN(now, 1)
	if !r.OK() { // only when burst < 1, which NewLimiter rules out
		return false, l.idle, nil
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d, nil
	}
	return true, 0, nil
}

// bucket returns key's bucket, marked used at now, after dropping the
// buckets that have been idle long enough to be full again, and, if the
// key is new and the limiter is full, the least recently used one.
// l.mu must be held.
func (l *Limiter) bucket(key string, now time.Time) *bucket {
	l.evictIdle(now)
	if e, ok := l.buckets[key]; ok {
		b := e.Value.(*bucket)
		b.lastUsed = now
		l.lru.MoveToFront(e)
		return b
	}
	for len(l.buckets) >= l.maxKeys {
		l.remove(l.lru.Back())
	}
	b := &bucket{key: key, lim: rate.NewLimiter(l.limit, l.burst), lastUsed: now}
	l.buckets[key] = l.lru.PushFront(b)
	return b
}

// evictIdle drops buckets unused for at least l.idle: they have refilled,
// so a new bucket for the key behaves the same. The list is in order of
// use, so this stops at the first bucket still in use.
func (l *Limiter) evictIdle(now time.Time) {
	cutoff := now.Add(-l.idle)
	for e := l.lru.Back(); e != nil; e = l.lru.Back() {
		if e.Value.(*bucket).lastUsed.After(cutoff) {
			return
		}
		l.remove(e)
	}
}

func (l *Limiter) remove(e *list.Element) {
	b := l.lru.Remove(e).(*bucket)
	delete(l.buckets, b.key)
}

// Len returns the number of keys currently tracked.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
