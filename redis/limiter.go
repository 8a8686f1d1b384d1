package redis

import (
	"context"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
	goredis "github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate"
)

// Limiter is a tollgate.Limiter shared by every instance: a GCRA (generic
// cell rate algorithm) kept in Redis by go-redis/redis_rate, one atomic Lua
// call per request, so "5 per minute per IP" holds whichever instance a
// request reaches. The burst equals the rate: a fresh key may spend its
// whole allowance at once, then earns one request back every per/rate.
//
// When Redis errors, Allow answers from the fallback (an in-process limiter
// with the same rate): limits become per-instance rather than vanishing.
// The switch is logged once, and so is the return to Redis.
type Limiter struct {
	rdb      *redis_rate.Limiter
	limit    redis_rate.Limit
	prefix   string
	fallback tollgate.Limiter
	now      func() time.Time
	health   *health
}

var _ tollgate.Limiter = (*Limiter)(nil)

// NewLimiter returns a limiter allowing rate requests per period for each
// key, shared through client. fallback answers while Redis is unreachable;
// when it is nil such calls fail with tollgate.ErrUnavailable instead.
// Give each limiter of an instance its own key prefix (WithKeyPrefix), for
// example "tollgate:obtain-ip:".
func NewLimiter(client goredis.UniversalClient, rate int, per time.Duration, fallback tollgate.Limiter, opts ...Option) *Limiter {
	o := newOptions(opts)
	return &Limiter{
		rdb:      redis_rate.NewLimiter(client),
		limit:    redis_rate.Limit{Rate: rate, Burst: rate, Period: per},
		prefix:   o.prefix,
		fallback: fallback,
		now:      o.now,
		health:   &health{what: "rate limits (" + o.prefix + ") are per-instance;", logger: o.logger, every: o.retryEvery},
	}
}

// Allow takes one request for key.
func (l *Limiter) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	now := l.now()
	if !l.health.skip(now) {
		res, err := l.rdb.Allow(ctx, l.prefix+key, l.limit)
		if err == nil {
			l.health.ok()
			return res.Allowed > 0, res.RetryAfter, nil
		}
		if ctx.Err() != nil {
			// The caller gave up; that says nothing about Redis.
			return false, 0, ctx.Err()
		}
		l.health.failed(now, err)
	}
	if l.fallback == nil {
		return false, 0, fmt.Errorf("redis: rate limit: %w", tollgate.ErrUnavailable)
	}
	return l.fallback.Allow(ctx, key)
}

// Degraded reports whether the limiter is answering from its fallback
// (for readiness output and metrics).
func (l *Limiter) Degraded() bool { return l.health.isDown() }
