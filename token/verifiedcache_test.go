package token_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/token"
)

// switchableKeySet wraps a key set whose keys can be withdrawn, as a
// retired or revoked key is by keys.RotatingSet.
type switchableKeySet struct {
	token.KeySet
	withdrawn atomic.Bool
}

func (s *switchableKeySet) VerificationKey(kid, alg string) (*token.Key, error) {
	if s.withdrawn.Load() {
		return nil, token.ErrUnknownKey
	}
	return s.KeySet.VerificationKey(kid, alg)
}

// TestParse_CachedVerificationRechecksTime: a token answered from the
// cache expires at exactly the same instant, with the same leeway, as one
// verified from scratch.
func TestParse_CachedVerificationRechecksTime(t *testing.T) {
	for _, leeway := range []time.Duration{0, 2 * time.Second} {
		now := testNow
		cached := newHMACCodec(t, func(cfg *token.Config) { cfg.Leeway = leeway; cfg.Now = func() time.Time { return now } })
		uncached := newHMACCodec(t, func(cfg *token.Config) {
			cfg.Leeway = leeway
			cfg.Now = func() time.Time { return now }
			cfg.CacheSize = -1
		})
		raw, err := cached.Sign(accessClaims()) // expires at testNow+5m
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cached.Parse(raw, tollgate.AccessToken); err != nil { // now in the cache
			t.Fatal(err)
		}
		exp := testNow.Add(5 * time.Minute)
		for _, at := range []time.Time{exp.Add(-time.Second), exp, exp.Add(leeway - time.Second), exp.Add(leeway), exp.Add(time.Hour)} {
			now = at
			_, gotErr := cached.Parse(raw, tollgate.AccessToken)
			_, wantErr := uncached.Parse(raw, tollgate.AccessToken)
			if !errors.Is(gotErr, wantErr) && !(gotErr == nil && wantErr == nil) {
				t.Errorf("leeway %v, at exp%+v: cached err = %v, uncached err = %v", leeway, at.Sub(exp), gotErr, wantErr)
			}
			if at.Before(exp.Add(leeway)) != (gotErr == nil) {
				t.Errorf("leeway %v, at exp%+v: err = %v", leeway, at.Sub(exp), gotErr)
			}
		}
	}
}

func TestParse_CachedVerificationRechecksTheKey(t *testing.T) {
	hmac, err := token.NewHMACKeySet("HS256", testSecret)
	if err != nil {
		t.Fatal(err)
	}
	ks := &switchableKeySet{KeySet: hmac}
	c, err := token.New(token.Config{Keys: ks, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := c.Sign(accessClaims())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Parse(raw, ""); err != nil {
		t.Fatal(err)
	}
	ks.withdrawn.Store(true) // the key is revoked
	if _, err := c.Parse(raw, ""); !errors.Is(err, tollgate.ErrTokenInvalid) {
		t.Fatalf("after the key was withdrawn: err = %v, want ErrTokenInvalid", err)
	}
}

func TestParse_CachedVerificationRechecksTheType(t *testing.T) {
	c := newHMACCodec(t, nil)
	raw, err := c.Sign(accessClaims())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Parse(raw, tollgate.AccessToken); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Parse(raw, tollgate.RefreshToken); !errors.Is(err, tollgate.ErrWrongTokenType) {
		t.Fatalf("err = %v, want ErrWrongTokenType", err)
	}
}

func TestParse_CachedClaimsAreNotShared(t *testing.T) {
	c := newHMACCodec(t, nil)
	cl := accessClaims()
	cl.Extra = map[string]any{"role": "admin"}
	raw, err := c.Sign(cl)
	if err != nil {
		t.Fatal(err)
	}
	// The first answer comes from the full path, the others from the cache:
	// changing any of them must not change what the next caller gets.
	for i := range 3 {
		got, err := c.Parse(raw, "")
		if err != nil {
			t.Fatal(err)
		}
		if got.Extra["role"] != "admin" || got.UserID != "42" {
			t.Fatalf("parse %d: a caller's change leaked into the cache: %+v", i, got)
		}
		got.Extra["role"] = "tampered"
		got.UserID = "1"
	}
}

func TestParse_TamperedTokenIsNotACacheHit(t *testing.T) {
	c := newHMACCodec(t, nil)
	raw, err := c.Sign(accessClaims())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Parse(raw, ""); err != nil {
		t.Fatal(err)
	}
	other := newHMACCodec(t, func(cfg *token.Config) {
		ks, err := token.NewHMACKeySet("HS256", []byte("another-secret-of-at-least-32-bytes!"))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Keys = ks
	})
	forged, err := other.Sign(accessClaims()) // same claims, another key
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Parse(forged, ""); !errors.Is(err, tollgate.ErrTokenInvalid) {
		t.Fatalf("forged token: err = %v, want ErrTokenInvalid", err)
	}
}

func TestParse_CacheIsBounded(t *testing.T) {
	c := newHMACCodec(t, func(cfg *token.Config) { cfg.CacheSize = 3 })
	for i := range 10 {
		cl := accessClaims()
		cl.JTI = string(rune('a'+i)) + "0123456789abcdef"
		raw, err := c.Sign(cl)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Parse(raw, ""); err != nil {
			t.Fatal(err)
		}
		if n := token.CachedTokens(c); n > 3 {
			t.Fatalf("after %d tokens the cache holds %d, want at most 3", i+1, n)
		}
	}
}
