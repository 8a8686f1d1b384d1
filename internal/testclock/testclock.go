// Package testclock is the controllable clock Tollgate's tests inject
// wherever behaviour depends on time (expiry, leeway, grace windows, key
// rotation, cache lifetimes), so no test sleeps. It is safe for concurrent
// use: a test's server goroutines read it while the test advances it.
package testclock

import (
	"sync"
	"time"
)

// Clock is a settable clock; its Now method is the func() time.Time the
// packages under test take.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a clock standing at t.
func New(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set puts the clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
