package keys

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/token"
)

// State is where a key is in its life. It is not stored: it follows from
// the key's dates and the clock, so a key retires by itself when its time
// comes, on every instance, without anyone running anything.
type State string

// Key states.
const (
	// StatePending: published in JWKS, not signing yet, so verifiers that
	// cache the key set learn it before they meet a token it signed.
	StatePending State = "pending"
	// StateActive: the one key that signs new tokens (and verifies).
	StateActive State = "active"
	// StateVerifyOnly: a newer key signs; this one still verifies the
	// tokens it signed until they have all expired.
	StateVerifyOnly State = "verify-only"
	// StateRetired: its tokens have all expired; it verifies nothing and is
	// gone from JWKS.
	StateRetired State = "retired"
	// StateRevoked: compromised; its tokens fail at once.
	StateRevoked State = "revoked"
)

// Verifies reports whether tokens of a key in this state verify.
func (s State) Verifies() bool {
	return s == StatePending || s == StateActive || s == StateVerifyOnly
}

// Defaults of Options.
const (
	DefaultJWKSMaxAge = 10 * time.Minute
)

// Options configure a RotatingSet.
type Options struct {
	// Store persists the keys; all instances of a deployment share it.
	Store tollgate.KeyStore
	// Algorithm is what new keys are generated for (default RS256).
	Algorithm string
	// KEK is the key-encryption key (32 bytes, AES-256-GCM) that seals
	// private keys at rest. Nil stores them in clear (then the database
	// must be protected like the key itself).
	KEK []byte
	// JWKSMaxAge is the Cache-Control max-age of the JWKS document, that
	// is how long a verifier may keep an old copy (default 10 minutes).
	JWKSMaxAge time.Duration
	// PublishFor is how long a new key is published before it signs. It
	// must be at least JWKSMaxAge (default 2 × JWKSMaxAge), so that every
	// cached copy of the key set holds the key before any token it signed
	// exists.
	PublishFor time.Duration
	// VerifyFor is how long a key keeps verifying after a newer one starts
	// signing: the longest lifetime a token can have (the refresh lifetime,
	// plus the leeway). Required.
	VerifyFor time.Duration
	// Now is the clock (time.Now when nil); Rand the source of keys and
	// nonces (crypto/rand when nil).
	Now  func() time.Time
	Rand io.Reader
}

// RotatingSet is a token.KeySet over the keys in a KeyStore, with
// rotation: at most one key signs at a time, newer keys are published
// before they sign, older keys verify until their tokens have expired, and
// a revoked key fails at once. It reads the store on Reload (and in Run);
// between reloads every answer is computed from memory and the clock.
type RotatingSet struct {
	opts   Options
	sealer *sealer
	snap   atomic.Pointer[snapshot]
	mu     sync.Mutex // serialises writes to the store
	algs   []string
}

var _ token.KeySet = (*RotatingSet)(nil)

type entry struct {
	rec tollgate.SigningKey // PrivateKey left as stored (maybe sealed)
	key *token.Key
}

// snapshot is an immutable view of the stored keys, oldest first.
type snapshot struct {
	entries []*entry
	byID    map[string]*entry
}

// NewRotatingSet loads the keys in opts.Store. It creates none: call
// EnsureSigner (the server does at start) or Rotate.
func NewRotatingSet(ctx context.Context, opts Options) (*RotatingSet, error) {
	if opts.Store == nil {
		return nil, errors.New("keys: a key store is required")
	}
	if opts.Algorithm == "" {
		opts.Algorithm = "RS256"
	}
	if _, err := method(opts.Algorithm); err != nil {
		return nil, err
	}
	if opts.JWKSMaxAge <= 0 {
		opts.JWKSMaxAge = DefaultJWKSMaxAge
	}
	if opts.PublishFor == 0 {
		opts.PublishFor = 2 * opts.JWKSMaxAge
	}
	if opts.PublishFor < opts.JWKSMaxAge {
		return nil, fmt.Errorf("keys: PublishFor (%s) must be at least JWKSMaxAge (%s), or verifiers with a cached key set meet unknown kids", opts.PublishFor, opts.JWKSMaxAge)
	}
	if opts.VerifyFor <= 0 {
		return nil, errors.New("keys: VerifyFor (the refresh lifetime) is required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &RotatingSet{opts: opts}
	var err error
	if s.sealer, err = newSealer(opts.KEK, opts.Rand); err != nil {
		return nil, err
	}
	if err := s.Reload(ctx); err != nil {
		return nil, err
	}
	// The parser's allow-list is fixed when a codec is built: it holds the
	// configured algorithm and those of the stored keys. A key is still
	// only used with its own algorithm (VerificationKey).
	s.algs = []string{opts.Algorithm}
	for _, e := range s.snap.Load().entries {
		if !slices.Contains(s.algs, e.rec.Algorithm) {
			s.algs = append(s.algs, e.rec.Algorithm)
		}
	}
	return s, nil
}

// Reload reads the keys from the store, picking up rotations and
// revocations made by other instances.
func (s *RotatingSet) Reload(ctx context.Context) error {
	recs, err := s.opts.Store.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("keys: loading signing keys: %w", err)
	}
	snap := &snapshot{byID: make(map[string]*entry, len(recs))}
	old := s.snap.Load()
	for _, r := range recs {
		// Keys never change material: reuse the decoded key when we have it.
		if old != nil {
			if e, ok := old.byID[r.ID]; ok && e.rec.Algorithm == r.Algorithm {
				ne := &entry{rec: *r, key: e.key}
				snap.entries = append(snap.entries, ne)
				snap.byID[r.ID] = ne
				continue
			}
		}
		k, err := s.decode(r)
		if err != nil {
			return fmt.Errorf("keys: signing key %s: %w", r.ID, err)
		}
		e := &entry{rec: *r, key: k}
		snap.entries = append(snap.entries, e)
		snap.byID[r.ID] = e
	}
	sort.SliceStable(snap.entries, func(i, j int) bool { return before(snap.entries[i], snap.entries[j]) })
	s.snap.Store(snap)
	return nil
}

// before orders keys by activation, then creation, then id.
func before(a, b *entry) bool {
	if !a.rec.ActivatesAt.Equal(b.rec.ActivatesAt) {
		return a.rec.ActivatesAt.Before(b.rec.ActivatesAt)
	}
	if !a.rec.CreatedAt.Equal(b.rec.CreatedAt) {
		return a.rec.CreatedAt.Before(b.rec.CreatedAt)
	}
	return a.rec.ID < b.rec.ID
}

// decode turns a stored record into a typed key.
func (s *RotatingSet) decode(r *tollgate.SigningKey) (*token.Key, error) {
	m, err := method(r.Algorithm)
	if err != nil {
		return nil, err
	}
	if len(r.PrivateKey) == 0 {
		pub, err := x509.ParsePKIXPublicKey(r.PublicKey)
		if err != nil {
			return nil, err
		}
		return newKey(r.ID, m, pub)
	}
	der := r.PrivateKey
	if r.Encrypted {
		if der, err = s.sealer.open(r.PrivateKey, r.ID, r.Algorithm); err != nil {
			return nil, err
		}
	}
	if IsHMAC(r.Algorithm) {
		return newKey(r.ID, m, der)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, err
	}
	return newKey(r.ID, m, priv)
}

// encode turns a new key into a record, sealing its private key when a
// KEK is configured.
func (s *RotatingSet) encode(k *token.Key, now, activates time.Time) (*tollgate.SigningKey, error) {
	r := &tollgate.SigningKey{ID: k.ID, Algorithm: k.Method.Alg(), CreatedAt: now, ActivatesAt: activates}
	switch p := k.Private.(type) {
	case []byte:
		r.PrivateKey = append([]byte(nil), p...)
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
		der, err := x509.MarshalPKCS8PrivateKey(p)
		if err != nil {
			return nil, err
		}
		r.PrivateKey = der
	case nil:
	default:
		return nil, fmt.Errorf("%w: %T", ErrAlgorithm, p)
	}
	if !IsHMAC(r.Algorithm) {
		der, err := x509.MarshalPKIXPublicKey(k.Public)
		if err != nil {
			return nil, err
		}
		r.PublicKey = der
	}
	if s.sealer != nil && len(r.PrivateKey) > 0 {
		sealed, err := s.sealer.seal(r.PrivateKey, r.ID, r.Algorithm)
		if err != nil {
			return nil, err
		}
		r.PrivateKey, r.Encrypted = sealed, true
	}
	return r, nil
}

// state computes the state of e at now.
func (sn *snapshot) state(e *entry, now time.Time) State {
	switch {
	case !e.rec.RevokedAt.IsZero() && !now.Before(e.rec.RevokedAt):
		return StateRevoked
	case !e.rec.RetiresAt.IsZero() && !now.Before(e.rec.RetiresAt):
		return StateRetired
	case now.Before(e.rec.ActivatesAt):
		return StatePending
	case e == sn.signer(now):
		return StateActive
	}
	return StateVerifyOnly
}

// signer is the key that signs at now: of the live keys that can sign and
// have activated, the one activated last.
func (sn *snapshot) signer(now time.Time) *entry {
	for i := len(sn.entries) - 1; i >= 0; i-- {
		e := sn.entries[i]
		if e.key.Private == nil || now.Before(e.rec.ActivatesAt) {
			continue
		}
		if !e.rec.RevokedAt.IsZero() && !now.Before(e.rec.RevokedAt) {
			continue
		}
		if !e.rec.RetiresAt.IsZero() && !now.Before(e.rec.RetiresAt) {
			continue
		}
		return e
	}
	return nil
}

// ErrNoSigningKey is returned by SigningKey when no key signs now.
var ErrNoSigningKey = errors.New("keys: no active signing key (run `tollgate keys rotate`)")

// SigningKey returns the active key.
func (s *RotatingSet) SigningKey() (*token.Key, error) {
	e := s.snap.Load().signer(s.opts.Now())
	if e == nil {
		return nil, ErrNoSigningKey
	}
	return e.key, nil
}

// VerificationKey returns the key kid if it verifies now and alg is its
// algorithm.
func (s *RotatingSet) VerificationKey(kid, alg string) (*token.Key, error) {
	sn := s.snap.Load()
	e, ok := sn.byID[kid]
	if !ok || e.rec.Algorithm != alg || !sn.state(e, s.opts.Now()).Verifies() {
		return nil, token.ErrUnknownKey
	}
	return e.key, nil
}

// Algorithms returns the configured algorithm and those of the stored keys.
func (s *RotatingSet) Algorithms() []string { return s.algs }

// Info describes one key for listing; it holds no key material.
type Info struct {
	ID          string
	Algorithm   string
	State       State
	Encrypted   bool
	CreatedAt   time.Time
	ActivatesAt time.Time
	RetiresAt   time.Time
	RevokedAt   time.Time
}

// List describes every key, oldest first, with its state now.
func (s *RotatingSet) List() []Info {
	sn := s.snap.Load()
	now := s.opts.Now()
	out := make([]Info, 0, len(sn.entries))
	for _, e := range sn.entries {
		out = append(out, Info{ID: e.rec.ID, Algorithm: e.rec.Algorithm, State: sn.state(e, now), Encrypted: e.rec.Encrypted,
			CreatedAt: e.rec.CreatedAt, ActivatesAt: e.rec.ActivatesAt, RetiresAt: e.rec.RetiresAt, RevokedAt: e.rec.RevokedAt})
	}
	return out
}

// published returns the keys JWKS lists now: asymmetric keys that verify.
func (s *RotatingSet) published() []*token.Key {
	sn := s.snap.Load()
	now := s.opts.Now()
	var out []*token.Key
	for _, e := range sn.entries {
		if !IsHMAC(e.rec.Algorithm) && sn.state(e, now).Verifies() {
			out = append(out, e.key)
		}
	}
	return out
}

// PublicKeys returns the keys to publish in JWKS; see JWKSHandler.
func (s *RotatingSet) PublicKeys() []*token.Key { return s.published() }

// MaxAge is the JWKS Cache-Control max-age.
func (s *RotatingSet) MaxAge() time.Duration { return s.opts.JWKSMaxAge }

// EnsureSigner creates a key that signs at once when no key signs now and
// none is pending: the first start of a deployment. It reports whether it
// created one.
func (s *RotatingSet) EnsureSigner(ctx context.Context) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.Reload(ctx); err != nil {
		return false, err
	}
	now := s.opts.Now()
	sn := s.snap.Load()
	if sn.signer(now) != nil {
		return false, nil
	}
	// A pending key that can sign is promoted rather than a new one made.
	for i := len(sn.entries) - 1; i >= 0; i-- {
		if e := sn.entries[i]; e.key.Private != nil && sn.state(e, now) == StatePending {
			r := e.rec
			r.ActivatesAt = now
			return true, s.update(ctx, &r)
		}
	}
	_, err := s.create(ctx, now, now)
	return err == nil, err
}

// Rotate generates a key that is published now and signs from now +
// PublishFor (at once if nothing signs now). Every older live key is
// scheduled to retire VerifyFor after the new key starts signing, unless
// it already is. It returns the new key's description.
func (s *RotatingSet) Rotate(ctx context.Context) (Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.Reload(ctx); err != nil {
		return Info{}, err
	}
	now := s.opts.Now()
	activates := now.Add(s.opts.PublishFor)
	if s.snap.Load().signer(now) == nil {
		activates = now
	}
	return s.create(ctx, now, activates)
}

// create stores a new key and schedules the retirement of the older ones;
// s.mu is held.
func (s *RotatingSet) create(ctx context.Context, now, activates time.Time) (Info, error) {
	k, err := Generate(s.opts.Algorithm, s.opts.Rand)
	if err != nil {
		return Info{}, err
	}
	rec, err := s.encode(k, now, activates)
	if err != nil {
		return Info{}, err
	}
	if err := s.opts.Store.CreateSigningKey(ctx, rec); err != nil {
		return Info{}, fmt.Errorf("keys: storing the new key: %w", err)
	}
	// Older keys verify until VerifyFor after the new key takes over: the
	// last of them may sign until then, so its retirement is pushed out to
	// cover its last token even if one was already scheduled.
	retires := activates.Add(s.opts.VerifyFor)
	sn := s.snap.Load()
	var last *entry
	for _, e := range sn.entries {
		if e.key.Private != nil && e.rec.ActivatesAt.Before(activates) && sn.state(e, now).Verifies() {
			last = e
		}
	}
	for _, e := range sn.entries {
		if e.key.Private == nil || !e.rec.ActivatesAt.Before(activates) || !sn.state(e, now).Verifies() {
			continue
		}
		if e.rec.RetiresAt.IsZero() || (e == last && e.rec.RetiresAt.Before(retires)) {
			r := e.rec
			r.RetiresAt = retires
			if err := s.opts.Store.UpdateSigningKeyDates(ctx, &r); err != nil {
				return Info{}, fmt.Errorf("keys: scheduling retirement of %s: %w", r.ID, err)
			}
		}
	}
	if err := s.Reload(ctx); err != nil {
		return Info{}, err
	}
	for _, in := range s.List() {
		if in.ID == k.ID {
			return in, nil
		}
	}
	return Info{}, fmt.Errorf("keys: new key %s not found after storing it", k.ID)
}

// update writes a record's dates and reloads; s.mu is held.
func (s *RotatingSet) update(ctx context.Context, r *tollgate.SigningKey) error {
	if err := s.opts.Store.UpdateSigningKeyDates(ctx, r); err != nil {
		return err
	}
	return s.Reload(ctx)
}

// Retire ends key kid's life now, ahead of schedule: its tokens fail. The
// key that signs cannot be retired (rotate first, or revoke it).
func (s *RotatingSet) Retire(ctx context.Context, kid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.Reload(ctx); err != nil {
		return err
	}
	now := s.opts.Now()
	sn := s.snap.Load()
	e, ok := sn.byID[kid]
	if !ok {
		return tollgate.ErrKeyNotFound
	}
	if sn.state(e, now) == StateActive {
		return fmt.Errorf("keys: %s is the active signing key; rotate first (or revoke it if it is compromised)", kid)
	}
	r := e.rec
	r.RetiresAt = now
	return s.update(ctx, &r)
}

// Revoke kills key kid at once (compromise): its tokens fail now, and it
// leaves JWKS. If it was signing, or was the key meant to sign next, a
// published pending key is promoted or, failing that, a new key signs at
// once (verifiers refetch JWKS on its unknown kid).
func (s *RotatingSet) Revoke(ctx context.Context, kid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.Reload(ctx); err != nil {
		return err
	}
	now := s.opts.Now()
	e, ok := s.snap.Load().byID[kid]
	if !ok {
		return tollgate.ErrKeyNotFound
	}
	r := e.rec
	r.RevokedAt = now
	if err := s.update(ctx, &r); err != nil {
		return err
	}
	sn := s.snap.Load()
	signer := sn.signer(now)
	var successor *entry // the published key meant to sign next
	for _, e := range sn.entries {
		if e.key.Private != nil && e.rec.RetiresAt.IsZero() && sn.state(e, now) == StatePending {
			successor = e
		}
	}
	switch {
	case signer == nil && successor != nil:
		// Already published: promote it rather than make an unknown kid.
		r := successor.rec
		r.ActivatesAt = now
		return s.update(ctx, &r)
	case signer == nil:
		_, err := s.create(ctx, now, now)
		return err
	case !signer.rec.RetiresAt.IsZero() && successor == nil:
		// The revoked key was the successor of a rotation in flight:
		// rotate again, so the signer does not retire with no heir.
		_, err := s.create(ctx, now, now.Add(s.opts.PublishFor))
		return err
	}
	return nil
}

// Prune deletes keys that retired or were revoked more than keep ago;
// they verify nothing, so this only keeps the table small.
func (s *RotatingSet) Prune(ctx context.Context, keep time.Duration) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cutoff := s.opts.Now().Add(-keep)
	n := 0
	for _, e := range s.snap.Load().entries {
		dead := e.rec.RevokedAt
		if dead.IsZero() || (!e.rec.RetiresAt.IsZero() && e.rec.RetiresAt.Before(dead)) {
			dead = e.rec.RetiresAt
		}
		if !dead.IsZero() && dead.Before(cutoff) {
			if err := s.opts.Store.DeleteSigningKey(ctx, e.rec.ID); err != nil && !errors.Is(err, tollgate.ErrKeyNotFound) {
				return n, err
			}
			n++
		}
	}
	return n, s.Reload(ctx)
}

// RotateIfOlder rotates when the newest live key was created at least
// every ago: the check of automatic rotation, safe to run on every
// instance (it reloads first, so a rotation made elsewhere counts).
func (s *RotatingSet) RotateIfOlder(ctx context.Context, every time.Duration) (rotated bool, _ Info, _ error) {
	if err := s.Reload(ctx); err != nil {
		return false, Info{}, err
	}
	now := s.opts.Now()
	var newest time.Time
	sn := s.snap.Load()
	for _, e := range sn.entries {
		if e.key.Private != nil && sn.state(e, now).Verifies() && e.rec.CreatedAt.After(newest) {
			newest = e.rec.CreatedAt
		}
	}
	if !newest.IsZero() && now.Sub(newest) < every {
		return false, Info{}, nil
	}
	in, err := s.Rotate(ctx)
	return err == nil, in, err
}

// Run keeps the set current until ctx ends: every reloadEvery it reloads
// the keys (rotations and revocations made by other instances), and when
// rotateEvery > 0 it rotates once the newest key is that old. onRotate,
// if not nil, is told of each rotation (to record tollgate.EventKeyRotated);
// onError of each failure. It is the server's hook for automatic rotation:
// go set.Run(ctx, time.Minute, 30*24*time.Hour, ...).
func (s *RotatingSet) Run(ctx context.Context, reloadEvery, rotateEvery time.Duration, onRotate func(Info), onError func(error)) {
	if reloadEvery <= 0 {
		reloadEvery = time.Minute
	}
	t := time.NewTicker(reloadEvery)
	defer t.Stop()
	for {
		var err error
		if rotateEvery > 0 {
			var rotated bool
			var in Info
			if rotated, in, err = s.RotateIfOlder(ctx, rotateEvery); rotated && onRotate != nil {
				onRotate(in)
			}
		} else {
			err = s.Reload(ctx)
		}
		if err != nil && onError != nil && ctx.Err() == nil {
			onError(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
