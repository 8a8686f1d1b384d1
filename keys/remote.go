package keys

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"

	"github.com/tollgate/tollgate/token"
)

// Defaults of a RemoteKeySet.
const (
	DefaultRemoteCacheAge     = 5 * time.Minute
	DefaultRemoteMaxCacheAge  = time.Hour
	DefaultRemoteRefetchEvery = 30 * time.Second
	DefaultRemoteTimeout      = 5 * time.Second
	DefaultRemoteMaxSize      = 1 << 20
)

// RemoteKeySet is a verify-only token.KeySet over another service's JWKS
// URL: what a downstream service uses to check Tollgate's tokens with no
// database and no secret. It caches the key set for the document's
// Cache-Control max-age; refetches when a token names an unknown kid, with
// one fetch for all concurrent callers and at most one fetch per
// refetch interval (so a flood of tokens with made-up kids cannot turn into
// a flood of requests); and keeps verifying with the cached keys when the
// endpoint is briefly down.
type RemoteKeySet struct {
	url          string
	client       *http.Client
	now          func() time.Time
	algs         []string
	defaultAge   time.Duration
	maxAge       time.Duration
	refetchEvery time.Duration
	timeout      time.Duration
	maxSize      int64

	group singleflight.Group
	mu    sync.Mutex
	keys  map[string]*token.Key
	gen   uint64    // bumped on every successful fetch
	fresh time.Time // the cache is fresh until then
	tried time.Time // last fetch attempt (success or not)
}

var _ token.KeySet = (*RemoteKeySet)(nil)

// RemoteOption configures a RemoteKeySet.
type RemoteOption func(*RemoteKeySet)

// WithHTTPClient sets the client the JWKS is fetched with (default: one
// with DefaultRemoteTimeout).
func WithHTTPClient(c *http.Client) RemoteOption { return func(r *RemoteKeySet) { r.client = c } }

// WithClock sets the clock.
func WithClock(now func() time.Time) RemoteOption { return func(r *RemoteKeySet) { r.now = now } }

// WithAlgorithms restricts the algorithms accepted (default: all
// asymmetric ones; HMAC keys are never taken from a JWKS).
func WithAlgorithms(algs ...string) RemoteOption { return func(r *RemoteKeySet) { r.algs = algs } }

// WithCacheAge sets how long a fetched key set is used when the response
// has no Cache-Control max-age (default 5 minutes), and the most it is
// used whatever the response says (default 1 hour).
func WithCacheAge(fallback, max time.Duration) RemoteOption {
	return func(r *RemoteKeySet) { r.defaultAge, r.maxAge = fallback, max }
}

// WithRefetchInterval sets the least time between two fetches (default 30 s).
func WithRefetchInterval(d time.Duration) RemoteOption {
	return func(r *RemoteKeySet) { r.refetchEvery = d }
}

// WithTimeout bounds each fetch (default 5 s).
func WithTimeout(d time.Duration) RemoteOption { return func(r *RemoteKeySet) { r.timeout = d } }

// WithMaxResponseSize bounds the JWKS document (default 1 MiB).
func WithMaxResponseSize(n int64) RemoteOption { return func(r *RemoteKeySet) { r.maxSize = n } }

// NewRemoteKeySet returns a key set that verifies with the keys published
// at jwksURL (https, or http for tests and in-cluster use). It does not
// fetch until the first token is verified; call Refresh to fail fast.
func NewRemoteKeySet(jwksURL string, opts ...RemoteOption) (*RemoteKeySet, error) {
	u, err := url.Parse(jwksURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("keys: JWKS URL %q must be an absolute http(s) URL", jwksURL)
	}
	r := &RemoteKeySet{
		url: jwksURL, now: time.Now, algs: AsymmetricAlgorithms,
		defaultAge: DefaultRemoteCacheAge, maxAge: DefaultRemoteMaxCacheAge,
		refetchEvery: DefaultRemoteRefetchEvery, timeout: DefaultRemoteTimeout, maxSize: DefaultRemoteMaxSize,
	}
	for _, o := range opts {
		o(r)
	}
	if r.client == nil {
		r.client = &http.Client{Timeout: r.timeout}
	}
	for _, a := range r.algs {
		if IsHMAC(a) || !slices.Contains(AsymmetricAlgorithms, a) {
			return nil, fmt.Errorf("%w: %q cannot be verified from a JWKS", ErrAlgorithm, a)
		}
	}
	return r, nil
}

// SigningKey fails: a remote key set only verifies.
func (r *RemoteKeySet) SigningKey() (*token.Key, error) {
	return nil, errors.New("keys: a remote key set cannot sign")
}

// Algorithms returns the accepted algorithms.
func (r *RemoteKeySet) Algorithms() []string { return r.algs }

// ErrJWKSUnavailable wraps a failure to fetch the key set.
var ErrJWKSUnavailable = errors.New("keys: JWKS unavailable")

// VerificationKey returns the published key kid if alg is its algorithm,
// fetching the key set when the cache is stale or does not know kid.
func (r *RemoteKeySet) VerificationKey(kid, alg string) (*token.Key, error) {
	if kid == "" || len(kid) > 256 {
		return nil, token.ErrUnknownKey
	}
	now := r.now()
	r.mu.Lock()
	k, known := r.keys[kid]
	stale := !now.Before(r.fresh)
	mayFetch := r.tried.IsZero() || now.Sub(r.tried) >= r.refetchEvery
	gen := r.gen
	r.mu.Unlock()

	if (stale || !known) && mayFetch {
		// Errors are not fatal: stale keys are better than none when the
		// endpoint is down; an unknown kid stays unknown.
		_ = r.refresh(gen)
		r.mu.Lock()
		k, known = r.keys[kid]
		r.mu.Unlock()
	}
	if !known || k.Method.Alg() != alg {
		return nil, token.ErrUnknownKey
	}
	return k, nil
}

// Refresh fetches the key set now (subject to nothing): for start-up checks.
func (r *RemoteKeySet) Refresh(ctx context.Context) error {
	r.mu.Lock()
	gen := r.gen
	r.mu.Unlock()
	return r.refreshCtx(ctx, gen)
}

func (r *RemoteKeySet) refresh(gen uint64) error {
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	return r.refreshCtx(ctx, gen)
}

// refreshCtx fetches once for all callers that saw generation gen: a
// caller arriving after a fetch it did not see completed uses its result.
func (r *RemoteKeySet) refreshCtx(ctx context.Context, gen uint64) error {
	_, err, _ := r.group.Do("jwks", func() (any, error) {
		r.mu.Lock()
		if r.gen != gen {
			r.mu.Unlock()
			return nil, nil
		}
		r.tried = r.now()
		r.mu.Unlock()
		keys, age, err := r.fetch(ctx)
		if err != nil {
			return nil, err
		}
		r.mu.Lock()
		r.keys = keys
		r.gen++
		r.fresh = r.now().Add(age)
		r.mu.Unlock()
		return nil, nil
	})
	return err
}

func (r *RemoteKeySet) fetch(ctx context.Context) (map[string]*token.Key, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrJWKSUnavailable, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrJWKSUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("%w: %s answered %s", ErrJWKSUnavailable, r.url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, r.maxSize+1))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrJWKSUnavailable, err)
	}
	if int64(len(body)) > r.maxSize {
		return nil, 0, fmt.Errorf("%w: document larger than %d bytes", ErrJWKSUnavailable, r.maxSize)
	}
	keys, err := r.parse(body)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrJWKSUnavailable, err)
	}
	return keys, r.cacheAge(resp.Header.Get("Cache-Control")), nil
}

// parse reads a JWKS, keeping the signature keys it can use: public
// asymmetric keys with a kid, whose algorithm (stated, or implied by the
// key type) is accepted and fits the key.
func (r *RemoteKeySet) parse(body []byte) (map[string]*token.Key, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, err
	}
	keys := make(map[string]*token.Key, len(doc.Keys))
	for _, raw := range doc.Keys {
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(raw); err != nil {
			continue // a key of a type we do not know must not hide the others
		}
		if jwk.KeyID == "" || (jwk.Use != "" && jwk.Use != "sig") || !jwk.Valid() {
			continue
		}
		pub := jwk.Public().Key
		alg := jwk.Algorithm
		if alg == "" {
			alg = impliedAlg(pub)
		}
		if !slices.Contains(r.algs, alg) || fits(alg, pub) != nil {
			continue
		}
		m, err := method(alg)
		if err != nil {
			continue
		}
		if _, dup := keys[jwk.KeyID]; dup {
			return nil, fmt.Errorf("duplicate kid %q", jwk.KeyID)
		}
		keys[jwk.KeyID] = &token.Key{ID: jwk.KeyID, Method: m, Public: pub}
	}
	return keys, nil
}

// impliedAlg is the algorithm a JWK without "alg" is taken for.
func impliedAlg(pub any) string {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		return "RS256"
	case *ecdsa.PublicKey:
		switch p.Curve {
		case elliptic.P256():
			return "ES256"
		case elliptic.P384():
			return "ES384"
		}
	case ed25519.PublicKey:
		return "EdDSA"
	}
	return ""
}

// cacheAge reads max-age from a Cache-Control header, bounded by the
// refetch interval below and the maximum cache age above.
func (r *RemoteKeySet) cacheAge(cc string) time.Duration {
	age := r.defaultAge
	for _, d := range strings.Split(cc, ",") {
		d = strings.TrimSpace(strings.ToLower(d))
		if v, ok := strings.CutPrefix(d, "max-age="); ok {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				age = time.Duration(n) * time.Second
			}
		}
		if d == "no-store" || d == "no-cache" {
			age = 0
		}
	}
	return max(r.refetchEvery, min(age, r.maxAge))
}
