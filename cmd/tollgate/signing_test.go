package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/token"
)

// recordedEvents is an EventSink that keeps events and signals each one.
type recordedEvents struct {
	mu     sync.Mutex
	events []tollgate.Event
	seen   chan struct{}
}

func newRecordedEvents() *recordedEvents { return &recordedEvents{seen: make(chan struct{}, 100)} }

func (r *recordedEvents) Record(_ context.Context, e tollgate.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	select {
	case r.seen <- struct{}{}:
	default:
	}
}

func (r *recordedEvents) count(typ string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// storedKeysConfig is a validated configuration signing with alg from keys
// stored in a SQLite file in dir.
func storedKeysConfig(t *testing.T, dir, alg string) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Algorithm = alg
	cfg.DatabaseURL = config.Secret(filepath.Join(dir, "tollgate.db"))
	cfg.KeyEncryptionKey = config.Secret(strings.Repeat("11", 32))
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if !cfg.StoredKeys() {
		t.Fatal("configuration does not use stored keys")
	}
	return cfg
}

func mint(t *testing.T, c *token.Codec) string {
	t.Helper()
	now := time.Now()
	tok, err := c.Sign(&tollgate.Claims{Type: tollgate.AccessToken, JTI: "0123456789abcdef0123456789abcdef", UserID: "1",
		IssuedAt: now, ExpiresAt: now.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestNewSigning_AllowListCoversStoredKeysOfAnotherAlgorithm: after
// ALGORITHM changes from ES256 to EdDSA, the ES256 key still stored (and
// still verifying) must be accepted by the codec, whose algorithm
// allow-list is fixed when it is built.
func TestNewSigning_AllowListCoversStoredKeysOfAnotherAlgorithm(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	logger := slog.New(slog.DiscardHandler)
	cfg := storedKeysConfig(t, dir, "ES256")
	store, _, err := openStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	events := newRecordedEvents()
	first, err := newSigning(ctx, cfg, store, events, logger)
	if err != nil {
		t.Fatal(err)
	}
	if n := events.count(tollgate.EventKeyRotated); n != 1 {
		t.Fatalf("first start recorded %d key_rotated events; want 1 (the generated key)", n)
	}
	esCodec, err := token.New(cfg.Token(first.keys))
	if err != nil {
		t.Fatal(err)
	}
	esToken := mint(t, esCodec)

	// The deployment moves to EdDSA: a rotation makes an EdDSA key.
	cfg2 := storedKeysConfig(t, dir, "EdDSA")
	second, err := newSigning(ctx, cfg2, store, events, logger)
	if err != nil {
		t.Fatal(err)
	}
	if n := events.count(tollgate.EventKeyRotated); n != 1 {
		t.Errorf("a restart with a signing key made another key (%d key_rotated events)", n)
	}
	if _, err := second.rotating.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	third, err := newSigning(ctx, cfg2, store, events, logger)
	if err != nil {
		t.Fatal(err)
	}
	algs := third.keys.Algorithms()
	if !slices.Contains(algs, "EdDSA") || !slices.Contains(algs, "ES256") {
		t.Fatalf("allow-list %v; want EdDSA and the stored ES256", algs)
	}
	codec, err := token.New(cfg2.Token(third.keys))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := codec.Parse(esToken, tollgate.AccessToken); err != nil {
		t.Errorf("a token of the still-verifying ES256 key is refused after the switch: %v", err)
	}
	if got := len(third.publisher.PublicKeys()); got != 2 {
		t.Errorf("JWKS publishes %d keys; want the ES256 and the pending EdDSA key", got)
	}
}

// TestSigningRun_AutomaticRotationRecordsAnEvent: with a rotation interval,
// the reload loop rotates by itself and records key_rotated.
func TestSigningRun_AutomaticRotationRecordsAnEvent(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := storedKeysConfig(t, t.TempDir(), "ES256")
	store, _, err := openStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	events := newRecordedEvents()
	s, err := newSigning(ctx, cfg, store, events, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	before := len(s.rotating.List())

	// Any key is "old enough" at a nanosecond: the first pass rotates.
	// (Validate would refuse such an interval; the loop does not care.)
	cfg.KeyRotationInterval = time.Nanosecond
	cfg.KeyReloadInterval = time.Hour
	done := make(chan struct{})
	go func() { defer close(done); s.run(ctx, cfg, events, slog.New(slog.DiscardHandler)) }()
	deadline := time.After(10 * time.Second)
	for events.count(tollgate.EventKeyRotated) < 2 {
		select {
		case <-events.seen:
		case <-deadline:
			t.Fatal("no key_rotated event from the rotation loop within 10s")
		}
	}
	cancel()
	<-done
	if after := len(s.rotating.List()); after != before+1 {
		t.Errorf("%d keys after one automatic rotation; want %d", after, before+1)
	}
}
