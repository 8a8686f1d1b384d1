package redis

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate"
)

// RevocationSource answers authoritatively whether a session is revoked;
// *tollgate.Service (which asks the store) is one.
type RevocationSource interface {
	SessionRevoked(ctx context.Context, sessionID string) (bool, error)
}

// Default cache lifetimes of Revocations.
const (
	// DefaultLiveTTL is how long a "not revoked" answer is trusted while the
	// subscription is up. Revocations arrive by message within milliseconds
	// then, so the TTL only bounds the damage of a message lost to a
	// partition that cut the revoking instance off Redis but not this one.
	DefaultLiveTTL = 10 * time.Second
	// DefaultFallbackTTL is how long a "not revoked" answer is trusted while
	// the subscription is down: short enough to keep the promise that every
	// instance honours a revocation within a second, long enough that a
	// burst of requests with one token costs one database read.
	DefaultFallbackTTL = 500 * time.Millisecond
	// DefaultRevokedTTL is how long a revoked session id is remembered; a
	// revocation is final, and after the longest access-token lifetime no
	// token of the session can be presented anyway.
	DefaultRevokedTTL = time.Hour
)

// Revocations answers the authentication middleware's question, "is the
// session of this access token revoked?", for every instance of a
// deployment, within a second of the revocation and without a database
// read per request. It plays three parts:
//
//   - a checker (SessionRevoked, the middleware.RevocationChecker): answers
//     from a local cache, asking the RevocationSource (the database) on a
//     miss. Revoked answers are kept (revocation is final); "live" answers
//     are kept for a short TTL.
//   - an event sink (Record): a family_revoked event, recorded by the
//     instance that revoked the session after the revocation is committed,
//     marks it revoked locally and publishes its id on a Redis channel.
//   - a subscriber (Run): receives those ids from every instance and marks
//     them revoked locally, so a cached "live" answer is overridden within
//     milliseconds.
//
// Redis pub/sub delivers at most once: a message published while a
// subscriber is disconnected is lost to it. So the live TTL depends on the
// subscription: LiveTTL (long) while it is up, FallbackTTL (under a second)
// while it is down or was never up, and every "live" answer is dropped
// whenever the subscription goes down or comes back (messages may have
// been missed in between). Without Redis at all (nil client) it is a
// short-TTL cache over the database. A publish that fails is retried when
// the subscription is next established.
type Revocations struct {
	client  goredis.UniversalClient // nil: no fan-out
	source  RevocationSource
	channel string
	now     func() time.Time
	health  *health

	LiveTTL     time.Duration // see DefaultLiveTTL
	FallbackTTL time.Duration // see DefaultFallbackTTL
	RevokedTTL  time.Duration // see DefaultRevokedTTL

	mu         sync.Mutex
	subscribed bool
	live       map[string]time.Time // session id -> trusted until
	revoked    map[string]time.Time // session id -> remembered until
	pending    []string             // ids whose publish failed
	inserts    int                  // since the last sweep of expired entries
}

// maxPending bounds the ids kept for a later publish while Redis is down;
// past it the oldest are dropped (their instances still learn within
// LiveTTL, from the database).
const maxPending = 10000

// NewRevocations returns a checker over source that fans revocations out
// through client (nil for none). Call Run in a goroutine to receive other
// instances' revocations, and add the Revocations to the service's event
// sinks so this instance's revocations are published.
func NewRevocations(client goredis.UniversalClient, source RevocationSource, opts ...Option) *Revocations {
	o := newOptions(opts)
	return &Revocations{
		client:      client,
		source:      source,
		channel:     o.prefix + "revoked-sessions",
		now:         o.now,
		health:      &health{what: "revocation checks ask the database;", logger: o.logger, every: o.retryEvery},
		LiveTTL:     DefaultLiveTTL,
		FallbackTTL: DefaultFallbackTTL,
		RevokedTTL:  DefaultRevokedTTL,
		live:        make(map[string]time.Time),
		revoked:     make(map[string]time.Time),
	}
}

// SessionRevoked reports whether the session is revoked (or gone). Errors of
// the source (database down) are returned, never cached.
func (r *Revocations) SessionRevoked(ctx context.Context, sessionID string) (bool, error) {
	now := r.now()
	r.mu.Lock()
	if until, ok := r.revoked[sessionID]; ok && now.Before(until) {
		r.mu.Unlock()
		return true, nil
	}
	if until, ok := r.live[sessionID]; ok && now.Before(until) {
		r.mu.Unlock()
		return false, nil
	}
	r.mu.Unlock()

	revoked, err := r.source.SessionRevoked(ctx, sessionID)
	if err != nil {
		return false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case revoked:
		r.markLocked(sessionID, now)
	case r.isRevokedLocked(sessionID, now):
		// A revocation message arrived while we were asking: it is newer
		// than the answer.
		return true, nil
	default:
		ttl := r.FallbackTTL
		if r.subscribed {
			ttl = r.LiveTTL
		}
		r.live[sessionID] = now.Add(ttl)
		r.sweepLocked(now)
	}
	return revoked, nil
}

// Record is the tollgate.EventSink side: a family_revoked event marks its
// session revoked here and publishes it to the other instances. Other
// events are ignored.
func (r *Revocations) Record(ctx context.Context, e tollgate.Event) {
	if e.Type != tollgate.EventFamilyRevoked || e.SessionID == "" {
		return
	}
	now := r.now()
	r.mu.Lock()
	r.markLocked(e.SessionID, now)
	r.mu.Unlock()
	if r.client == nil {
		return
	}
	if r.health.skip(now) {
		r.addPending(e.SessionID)
		return
	}
	// The revocation is committed; a client that hangs up must not stop
	// the other instances from hearing of it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if err := r.client.Publish(ctx, r.channel, e.SessionID).Err(); err != nil {
		r.health.failed(now, err)
		r.addPending(e.SessionID)
		return
	}
	r.health.ok()
}

// Run subscribes to the revocation channel and applies what arrives until
// ctx ends. It reconnects by itself after Redis failures; while the
// subscription is down SessionRevoked uses FallbackTTL. It returns nil when
// ctx ends, at once when there is no client.
func (r *Revocations) Run(ctx context.Context) error {
	if r.client == nil {
		return nil
	}
	ps := r.client.Subscribe(ctx, r.channel)
	defer ps.Close()
	for {
		msg, err := ps.ReceiveTimeout(ctx, time.Second)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil && isTimeout(err) {
			// Quiet channel: check the connection is still there.
			err = ps.Ping(ctx)
		}
		if err != nil {
			r.setSubscribed(false, err)
			// Pace reconnection attempts; go-redis redials on the next call.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(r.health.every):
			}
			continue
		}
		switch m := msg.(type) {
		case *goredis.Subscription:
			if m.Kind == "subscribe" {
				r.setSubscribed(true, nil)
				r.publishPending(ctx)
			}
		case *goredis.Message:
			r.mu.Lock()
			r.markLocked(m.Payload, r.now())
			r.mu.Unlock()
		}
	}
}

// Subscribed reports whether revocations of other instances are arriving
// (readiness output, and tests waiting for the subscription).
func (r *Revocations) Subscribed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.subscribed
}

// setSubscribed records the subscription state. Any change drops the cached
// "live" answers: while down they were given a long TTL they no longer
// deserve, and after coming back messages may have been lost meanwhile.
func (r *Revocations) setSubscribed(up bool, err error) {
	r.mu.Lock()
	changed := r.subscribed != up
	r.subscribed = up
	if changed {
		clear(r.live)
	}
	r.mu.Unlock()
	if up {
		r.health.ok()
	} else {
		r.health.failed(r.now(), err)
	}
}

// publishPending retries the publishes that failed while Redis was down.
func (r *Revocations) publishPending(ctx context.Context) {
	r.mu.Lock()
	ids := r.pending
	r.pending = nil
	r.mu.Unlock()
	for i, id := range ids {
		if err := r.client.Publish(ctx, r.channel, id).Err(); err != nil {
			for _, id := range ids[i:] {
				r.addPending(id)
			}
			return
		}
	}
}

func (r *Revocations) addPending(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.pending) >= maxPending {
		r.pending = r.pending[1:]
	}
	r.pending = append(r.pending, id)
}

func (r *Revocations) markLocked(id string, now time.Time) {
	delete(r.live, id)
	r.revoked[id] = now.Add(r.RevokedTTL)
	r.sweepLocked(now)
}

func (r *Revocations) isRevokedLocked(id string, now time.Time) bool {
	until, ok := r.revoked[id]
	return ok && now.Before(until)
}

// sweepLocked drops expired entries every so many inserts, keeping both
// maps bounded by the traffic of one TTL at amortised constant cost.
func (r *Revocations) sweepLocked(now time.Time) {
	r.inserts++
	if r.inserts < 1024 {
		return
	}
	r.inserts = 0
	for id, until := range r.live {
		if !now.Before(until) {
			delete(r.live, id)
		}
	}
	for id, until := range r.revoked {
		if !now.Before(until) {
			delete(r.revoked, id)
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
