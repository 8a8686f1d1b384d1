package token

import (
	"maps"
	"sync"
	"time"

	"github.com/tollgate/tollgate"
)

// DefaultCacheSize is how many verified tokens a Codec remembers.
const DefaultCacheSize = 4096

// verifiedCache remembers tokens that passed every check of Parse, keyed by
// their exact bytes, so a client presenting the same access token on every
// request (the common case: one token for up to ACCESS_TOKEN_LIFETIME) pays
// the signature check and the JSON work once. It memoises a completed
// verification by the JOSE library; it parses nothing itself.
//
// What depends on time or on the key set is checked again on every hit:
// exp and nbf against the clock (with the leeway), and the key, which must
// still be returned by the key set for the token's kid and alg as the very
// same *Key (a retired, revoked or reloaded key misses and goes through the
// full path). Only tokens signed by one of our keys can enter, so
// forgeries cannot fill it; it is bounded and starts afresh when full.
type verifiedCache struct {
	mu  sync.RWMutex
	m   map[string]*verifiedToken
	max int
}

// verifiedToken is one cache entry.
type verifiedToken struct {
	claims    tollgate.Claims
	notBefore time.Time // zero when the token has no nbf
	kid, alg  string
	key       *Key
}

func newVerifiedCache(size int) *verifiedCache {
	if size < 0 {
		return nil
	}
	if size == 0 {
		size = DefaultCacheSize
	}
	return &verifiedCache{m: make(map[string]*verifiedToken, min(size, 1024)), max: size}
}

func (vc *verifiedCache) get(raw string) *verifiedToken {
	if vc == nil {
		return nil
	}
	vc.mu.RLock()
	v := vc.m[raw]
	vc.mu.RUnlock()
	return v
}

func (vc *verifiedCache) put(raw string, v *verifiedToken) {
	if vc == nil {
		return
	}
	vc.mu.Lock()
	if len(vc.m) >= vc.max {
		clear(vc.m)
	}
	vc.m[raw] = v
	vc.mu.Unlock()
}

// len reports the number of entries (for tests).
func (vc *verifiedCache) len() int {
	if vc == nil {
		return 0
	}
	vc.mu.RLock()
	defer vc.mu.RUnlock()
	return len(vc.m)
}

// fromCache answers Parse from a cached verification, re-checking what
// can change since: expiry and nbf (same rules as golang-jwt's validator:
// valid while now < exp+leeway, and once now+leeway >= nbf), the key, and
// the wanted type. hit is false on a miss (or a key that changed), and the
// caller takes the full path.
func (c *Codec) fromCache(raw string, want tollgate.TokenType) (cl *tollgate.Claims, hit bool, err error) {
	v := c.cache.get(raw)
	if v == nil {
		return nil, false, nil
	}
	key, kerr := c.keys.VerificationKey(v.kid, v.alg)
	if kerr != nil || key != v.key {
		return nil, false, nil
	}
	now := c.now()
	if !now.Before(v.claims.ExpiresAt.Add(c.leeway)) {
		return nil, true, tollgate.ErrTokenExpired
	}
	if !v.notBefore.IsZero() && now.Add(c.leeway).Before(v.notBefore) {
		return nil, true, tollgate.ErrTokenInvalid
	}
	if want != "" && v.claims.Type != want {
		return nil, true, tollgate.ErrWrongTokenType
	}
	out := v.claims
	if out.Extra != nil {
		out.Extra = maps.Clone(out.Extra) // callers may not share our map
	}
	if out.Audience != nil {
		out.Audience = append([]string(nil), out.Audience...)
	}
	return &out, true, nil
}
