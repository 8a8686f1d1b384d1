// Package redistest gives tests the shared test Redis and a key prefix of
// their own, so tests running at once never see each other's keys or
// channels.
//
// The server is TOLLGATE_TEST_REDIS_URL (default redis://127.0.0.1:6379/0).
// When it cannot be reached the test fails; only TOLLGATE_TEST_REDIS=skip,
// set explicitly on a laptop, turns the tests into skips.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// DefaultURL is the test server when TOLLGATE_TEST_REDIS_URL is unset.
const DefaultURL = "redis://127.0.0.1:6379/0"

// Options returns the parsed options of the test server, failing the test
// when it does not answer.
func Options(t testing.TB) *goredis.Options {
	t.Helper()
	if os.Getenv("TOLLGATE_TEST_REDIS") == "skip" {
		t.Skip("TOLLGATE_TEST_REDIS=skip")
	}
	raw := os.Getenv("TOLLGATE_TEST_REDIS_URL")
	if raw == "" {
		raw = DefaultURL
	}
	opt, err := goredis.ParseURL(raw)
	if err != nil {
		t.Fatalf("redistest: TOLLGATE_TEST_REDIS_URL: %v", err)
	}
	c := goredis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("redistest: Redis at %s is not reachable (set TOLLGATE_TEST_REDIS=skip to skip on a laptop): %v", opt.Addr, err)
	}
	return opt
}

// Client returns a client of the test server, closed when the test ends.
func Client(t testing.TB) *goredis.Client {
	t.Helper()
	c := goredis.NewClient(Options(t))
	t.Cleanup(func() { c.Close() })
	return c
}

// Prefix returns a key prefix unique to this test; its keys are deleted
// when the test ends.
func Prefix(t testing.TB) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	prefix := "tollgate-test:" + hex.EncodeToString(b[:]) + ":"
	opt := Options(t)
	t.Cleanup(func() {
		c := goredis.NewClient(opt)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// redis_rate stores its keys under "rate:" + our key.
		for _, pattern := range []string{prefix + "*", "rate:" + prefix + "*"} {
			iter := c.Scan(ctx, 0, pattern, 100).Iterator()
			for iter.Next(ctx) {
				c.Del(ctx, iter.Val())
			}
		}
	})
	return prefix
}
