package keys_test

import (
	"context"
	"crypto"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/internal/testclock"
	"github.com/tollgate/tollgate/keys"
	"github.com/tollgate/tollgate/token"
	"github.com/tollgate/tollgate/token/tokentest"
)

// jwksServer serves h and counts the requests; down makes it answer 503.
type jwksServer struct {
	*httptest.Server
	fetches atomic.Int32
	down    atomic.Bool
}

func serveJWKS(t testing.TB, h http.Handler) *jwksServer {
	s := &jwksServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		if s.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func remote(t testing.TB, srv *jwksServer, clk *testclock.Clock, opts ...keys.RemoteOption) (*keys.RemoteKeySet, *token.Codec) {
	t.Helper()
	r, err := keys.NewRemoteKeySet(srv.URL+keys.JWKSPath, append([]keys.RemoteOption{keys.WithHTTPClient(srv.Client()), keys.WithClock(clk.Now)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return r, codec(t, r, clk.Now)
}

func TestRemoteKeySet_DownstreamAcceptsTokensAndRefusesThemAfterRevokeOnceItsCacheRefreshes(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	set := rotating(t, keys.NewMemoryStore(), clk, "ES256", nil)
	set.EnsureSigner(ctx)
	issuer := codec(t, set, clk.Now)
	srv := serveJWKS(t, keys.JWKSHandler(set))
	_, downstream := remote(t, srv, clk)

	tok, _ := issuer.Sign(claimsAt(clk.Now(), time.Hour))
	if _, err := downstream.Parse(tok, tollgate.RefreshToken); err != nil {
		t.Fatalf("downstream refused Tollgate's token: %v", err)
	}
	if err := set.Revoke(ctx, signingKID(t, set)); err != nil {
		t.Fatal(err)
	}
	// Within the JWKS max-age the downstream still trusts its cached copy.
	clk.Advance(10*time.Minute - time.Second)
	if _, err := downstream.Parse(tok, ""); err != nil {
		t.Fatalf("refused before its cache expired (it cannot know yet): %v", err)
	}
	clk.Advance(time.Second)
	if _, err := downstream.Parse(tok, ""); err == nil {
		t.Fatal("downstream accepted a revoked key's token after its cache refreshed")
	}
	// The replacement key's tokens verify (an unknown kid triggers a fetch).
	tok2, _ := issuer.Sign(claimsAt(clk.Now(), time.Hour))
	clk.Advance(time.Minute)
	if _, err := downstream.Parse(tok2, ""); err != nil {
		t.Fatalf("downstream refused the replacement key's token: %v", err)
	}
}

func TestRotation_EndToEndThroughJWKS(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	set := rotating(t, keys.NewMemoryStore(), clk, "RS256", nil)
	set.EnsureSigner(ctx)
	issuer := codec(t, set, clk.Now)
	srv := serveJWKS(t, keys.JWKSHandler(set))
	_, downstream := remote(t, srv, clk)
	life := 7 * 24 * time.Hour

	k1 := signingKID(t, set)
	t1, _ := issuer.Sign(claimsAt(clk.Now(), life))
	if _, err := downstream.Parse(t1, ""); err != nil {
		t.Fatal(err)
	}
	fetches := srv.fetches.Load()
	set.Rotate(ctx)
	clk.Advance(20 * time.Minute) // K2 signs now
	t2, _ := issuer.Sign(claimsAt(clk.Now(), life))
	if _, err := downstream.Parse(t2, ""); err != nil {
		t.Fatalf("K2 token refused downstream: %v", err)
	}
	if _, err := downstream.Parse(t1, ""); err != nil {
		t.Fatalf("K1 token refused after rotation: %v", err)
	}
	// The downstream's cache had K2 before K2 signed: one refresh on
	// expiry, no fetch for an unknown kid.
	if n := srv.fetches.Load() - fetches; n != 1 {
		t.Fatalf("%d fetches across the rotation, want 1 (cache expiry only)", n)
	}
	clk.Advance(life) // past K1's refresh lifetime, measured from K2's start
	if _, err := issuer.Parse(t1, ""); err == nil {
		t.Fatal("K1 token accepted by Tollgate after the refresh lifetime")
	}
	if published(set, k1) {
		t.Fatal("K1 still in JWKS")
	}
	var doc struct{ Keys []struct{ Kid string } }
	resp, err := srv.Client().Get(srv.URL + keys.JWKSPath)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	for _, k := range doc.Keys {
		if k.Kid == k1 {
			t.Fatal("K1 served in JWKS after retiring")
		}
	}
}

func TestRemoteKeySet_UnknownKidFetchesOnceForConcurrentCallers(t *testing.T) {
	clk := newClock()
	k, _ := keys.Generate("ES256", nil)
	pub := keys.NewStaticPublisher(time.Hour, k)
	srv := serveJWKS(t, keys.JWKSHandler(pub))
	r, _ := remote(t, srv, clk, keys.WithRefetchInterval(0))
	if _, err := r.VerificationKey(k.ID, "ES256"); err != nil {
		t.Fatal(err)
	}
	k2, _ := keys.Generate("ES256", nil)
	pub.Keys = []*token.Key{k, k2} // published while callers wait
	before := srv.fetches.Load()
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := r.VerificationKey(k2.ID, "ES256")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("new kid: %v", err)
		}
	}
	if n := srv.fetches.Load() - before; n != 1 {
		t.Fatalf("%d fetches for 50 concurrent callers, want 1", n)
	}
}

func TestRemoteKeySet_RefetchOnUnknownKidIsRateLimited(t *testing.T) {
	clk := newClock()
	k, _ := keys.Generate("ES256", nil)
	srv := serveJWKS(t, keys.JWKSHandler(keys.NewStaticPublisher(time.Hour, k)))
	r, _ := remote(t, srv, clk, keys.WithRefetchInterval(30*time.Second))
	r.VerificationKey(k.ID, "ES256")
	for i := range 100 {
		if _, err := r.VerificationKey("made-up-"+string(rune('a'+i%26)), "ES256"); err == nil {
			t.Fatal("unknown kid accepted")
		}
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches for 100 unknown kids within the refetch interval, want 1", n)
	}
	clk.Advance(30 * time.Second)
	r.VerificationKey("made-up", "ES256")
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after the interval, want 2", n)
	}
}

func TestRemoteKeySet_KeepsCachedKeysWhileEndpointIsDown(t *testing.T) {
	clk := newClock()
	k, _ := keys.Generate("EdDSA", nil)
	srv := serveJWKS(t, keys.JWKSHandler(keys.NewStaticPublisher(time.Minute, k)))
	r, _ := remote(t, srv, clk)
	if _, err := r.VerificationKey(k.ID, "EdDSA"); err != nil {
		t.Fatal(err)
	}
	srv.down.Store(true)
	clk.Advance(10 * time.Minute)
	if _, err := r.VerificationKey(k.ID, "EdDSA"); err != nil {
		t.Fatalf("cached key refused while the endpoint is down: %v", err)
	}
	if srv.fetches.Load() != 2 {
		t.Fatalf("fetches = %d, want a refresh attempt", srv.fetches.Load())
	}
}

func TestRemoteKeySet_RefusesWhatAJWKSMustNotChange(t *testing.T) {
	clk := newClock()
	rsaKey, _ := keys.Generate("RS256", nil)
	for _, tc := range []struct {
		name string
		body string
		kid  string
		alg  string
	}{
		{"oct (HMAC) key", `{"keys":[{"kty":"oct","kid":"h","alg":"HS256","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}]}`, "h", "HS256"},
		{"encryption key", jwksOf(t, rsaKey, "enc"), rsaKey.ID, "RS256"},
		{"alg other than the key's", jwksOf(t, rsaKey, "sig"), rsaKey.ID, "PS256"},
		{"oversized document", `{"keys":[],"pad":"` + strings.Repeat("A", 2<<20) + `"}`, "x", "RS256"},
		{"not JSON", `<html>`, "x", "RS256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := serveJWKS(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(tc.body)) }))
			r, _ := remote(t, srv, clk)
			if _, err := r.VerificationKey(tc.kid, tc.alg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if _, err := keys.NewRemoteKeySet("https://x/jwks", keys.WithAlgorithms("HS256")); err == nil {
		t.Fatal("remote set allowed HS256")
	}
	if _, err := keys.NewRemoteKeySet("/relative"); err == nil {
		t.Fatal("relative URL accepted")
	}
}

func jwksOf(t testing.TB, k *token.Key, use string) string {
	set := keys.JWKS([]*token.Key{k})
	set.Keys[0].Use = use
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestJWKSHandler_PublishesPublicKeysOnlyWithCacheControl(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	set := rotating(t, keys.NewMemoryStore(), clk, "RS256", nil)
	set.EnsureSigner(ctx)
	set.Rotate(ctx)
	rec := httptest.NewRecorder()
	keys.JWKSHandler(set).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, keys.JWKSPath, nil))
	if rec.Code != 200 || rec.Header().Get("Cache-Control") != "public, max-age=600, must-revalidate" {
		t.Fatalf("status %d, Cache-Control %q", rec.Code, rec.Header().Get("Cache-Control"))
	}
	var doc struct{ Keys []map[string]any }
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Keys) != 2 {
		t.Fatalf("%d keys, want the active and the pending one", len(doc.Keys))
	}
	for _, k := range doc.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := k[private]; ok {
				t.Fatalf("JWKS leaks private member %q", private)
			}
		}
		if k["alg"] != "RS256" || k["use"] != "sig" || k["kid"] == "" {
			t.Fatalf("key %v", k)
		}
	}
	hmac, _ := keys.Generate("HS256", nil)
	if got := keys.JWKS([]*token.Key{hmac}); len(got.Keys) != 0 {
		t.Fatal("an HMAC key was published")
	}
	rec = httptest.NewRecorder()
	keys.JWKSHandler(set).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, keys.JWKSPath, nil))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") == "" {
		t.Fatalf("POST: %d Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
}

func TestDiscoveryHandler_ServesIssuerAndJWKSURI(t *testing.T) {
	rec := httptest.NewRecorder()
	keys.DiscoveryHandler("https://auth.example", "https://auth.example/.well-known/jwks.json", []string{"ES256"}, time.Minute).
		ServeHTTP(rec, httptest.NewRequest(http.MethodGet, keys.DiscoveryPath, nil))
	var d keys.Discovery
	if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil || d.Issuer != "https://auth.example" || d.JWKSURI != "https://auth.example/.well-known/jwks.json" {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}

// TestRemoteKeySet_RefusesHostileTokens runs the hostile corpus against a
// downstream that knows only the JWKS URL, with a retired and a revoked key
// among the corpus's dead keys.
func TestRemoteKeySet_RefusesHostileTokens(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	k, err := tokentest.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	rsaKey := &token.Key{ID: k.RSAKid, Method: jwt.SigningMethodRS256, Private: k.RSA, Public: &k.RSA.PublicKey}
	ecKey := &token.Key{ID: k.ECKid, Method: jwt.SigningMethodES256, Private: k.EC, Public: &k.EC.PublicKey}

	// A rotating set supplies a retired and a revoked key.
	set := rotating(t, keys.NewMemoryStore(), clk, "RS256", nil)
	set.EnsureSigner(ctx)
	retired, _ := set.SigningKey()
	set.Rotate(ctx)
	clk.Advance(time.Hour)
	set.Retire(ctx, retired.ID)
	revoked, _ := set.SigningKey()
	set.Revoke(ctx, revoked.ID)
	k.Dead = []tokentest.DeadKey{
		{Name: "retired", Kid: retired.ID, Method: jwt.SigningMethodRS256, Private: retired.Private.(crypto.Signer)},
		{Name: "revoked", Kid: revoked.ID, Method: jwt.SigningMethodRS256, Private: revoked.Private.(crypto.Signer)},
	}
	if len(set.PublicKeys()) != 1 {
		t.Fatalf("the set publishes %d keys, want only the revoked key's replacement", len(set.PublicKeys()))
	}
	pub := &multiPublisher{keys: []*token.Key{rsaKey, ecKey}, set: set}
	srv := serveJWKS(t, keys.JWKSHandler(pub))
	_, downstream := remote(t, srv, clk)
	claims := tokentest.Claims(clk.Now())
	if _, err := downstream.Parse(tokentest.Valid(k, claims), ""); err != nil {
		t.Fatalf("valid token refused: %v", err)
	}
	for _, tc := range tokentest.Hostile(k, claims) {
		t.Run(tc.Name, func(t *testing.T) {
			if _, err := downstream.Parse(tc.Token, ""); err == nil {
				t.Fatal("accepted")
			} else if tollgate.ErrorCode(err) != tollgate.ETokenNotValid {
				t.Fatalf("code %q", tollgate.ErrorCode(err))
			}
		})
	}
}

// multiPublisher publishes fixed keys plus a set's.
type multiPublisher struct {
	keys []*token.Key
	set  *keys.RotatingSet
}

func (m *multiPublisher) PublicKeys() []*token.Key {
	return append(append([]*token.Key(nil), m.keys...), m.set.PublicKeys()...)
}
func (m *multiPublisher) MaxAge() time.Duration { return m.set.MaxAge() }
