package keys_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"testing"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/internal/testclock"
	"github.com/tollgate/tollgate/keys"
	"github.com/tollgate/tollgate/token"
)

// newClock is a settable clock shared by a test's components.
func newClock() *testclock.Clock { return testclock.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)) }

func claimsAt(now time.Time, life time.Duration) *tollgate.Claims {
	return &tollgate.Claims{Type: tollgate.RefreshToken, JTI: "0123456789abcdef", UserID: "1", SessionID: "s",
		IssuedAt: now, ExpiresAt: now.Add(life)}
}

func codec(t testing.TB, ks token.KeySet, now func() time.Time) *token.Codec {
	t.Helper()
	c, err := token.New(token.Config{Keys: ks, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestGenerate_EveryAlgorithmSignsAndVerifies(t *testing.T) {
	now := func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }
	for _, alg := range keys.Algorithms {
		t.Run(alg, func(t *testing.T) {
			k, err := keys.Generate(alg, nil)
			if err != nil {
				t.Fatal(err)
			}
			if k.ID == "" || k.Method.Alg() != alg {
				t.Fatalf("key %q for %s", k.ID, k.Method.Alg())
			}
			ks, err := token.NewStaticKeySet(k)
			if err != nil {
				t.Fatal(err)
			}
			c := codec(t, ks, now)
			raw, err := c.Sign(claimsAt(now(), time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Parse(raw, ""); err != nil {
				t.Fatalf("Parse: %v", err)
			}
		})
	}
}

func pemOf(t testing.TB, typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestFromPEM_AcceptsEveryFormatAndRefusesMismatches(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	pk8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pemOf(t, "PRIVATE KEY", der)
	}
	pub := func(k any) []byte {
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pemOf(t, "PUBLIC KEY", der)
	}
	sec1, _ := x509.MarshalECPrivateKey(ecKey)
	for _, tc := range []struct {
		name, alg  string
		pem        []byte
		verifyOnly bool
	}{
		{"RSA PKCS#8", "RS256", pk8(rsaKey), false},
		{"RSA PKCS#1", "PS256", pemOf(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), false},
		{"EC PKCS#8", "ES256", pk8(ecKey), false},
		{"EC SEC1", "ES256", pemOf(t, "EC PRIVATE KEY", sec1), false},
		{"Ed25519 PKCS#8", "EdDSA", pk8(edKey), false},
		{"RSA public PKIX", "RS256", pub(&rsaKey.PublicKey), true},
		{"RSA public PKCS#1", "RS512", pemOf(t, "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)), true},
		{"EC public", "ES256", pub(&ecKey.PublicKey), true},
		{"Ed25519 public", "EdDSA", pub(edKey.Public()), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := keys.FromPEM(tc.alg, "", tc.pem)
			if err != nil {
				t.Fatal(err)
			}
			if (k.Private == nil) != tc.verifyOnly {
				t.Fatalf("Private = %T, verify-only = %v", k.Private, tc.verifyOnly)
			}
		})
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	for _, tc := range []struct {
		name, alg string
		pem       []byte
	}{
		{"RSA key for ES256", "ES256", pk8(rsaKey)},
		{"P-256 key for ES384", "ES384", pk8(ecKey)},
		{"EC key for RS256", "RS256", pk8(ecKey)},
		{"Ed25519 key for ES256", "ES256", pk8(edKey)},
		{"RSA 1024", "RS256", pk8(small)},
		{"PEM for HS256", "HS256", pk8(rsaKey)},
		{"not PEM", "RS256", []byte("-----BEGIN NOTHING-----")},
		{"unknown alg", "RS1", pk8(rsaKey)},
	} {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			if _, err := keys.FromPEM(tc.alg, "", tc.pem); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestFromPEM_PublicKeyVerifiesTokensOfItsPrivateKey(t *testing.T) {
	now := func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }
	priv, err := keys.Generate("ES384", nil)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := keys.EncodePublicKeyPEM(priv.Public)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := keys.FromPEM("ES384", "", pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	if pub.ID != priv.ID {
		t.Fatalf("kid from public PEM %q != kid of the private key %q", pub.ID, priv.ID)
	}
	signer, _ := token.NewStaticKeySet(priv)
	verifier, _ := token.NewStaticKeySet(pub)
	raw, err := codec(t, signer, now).Sign(claimsAt(now(), time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	vc := codec(t, verifier, now)
	if _, err := vc.Parse(raw, ""); err != nil {
		t.Fatalf("verify-only key refused its token: %v", err)
	}
	if _, err := vc.Sign(claimsAt(now(), time.Minute)); err == nil {
		t.Fatal("a verify-only key signed")
	}
}

// rotating returns a RotatingSet over store with a 10 min JWKS max-age,
// 20 min publication lead and a 7 day refresh lifetime.
func rotating(t testing.TB, store tollgate.KeyStore, clk *testclock.Clock, alg string, kek []byte) *keys.RotatingSet {
	t.Helper()
	s, err := keys.NewRotatingSet(context.Background(), keys.Options{
		Store: store, Algorithm: alg, KEK: kek, JWKSMaxAge: 10 * time.Minute, PublishFor: 20 * time.Minute,
		VerifyFor: 7 * 24 * time.Hour, Now: clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func states(s *keys.RotatingSet) map[string]keys.State {
	m := map[string]keys.State{}
	for _, in := range s.List() {
		m[in.ID] = in.State
	}
	return m
}

func signingKID(t testing.TB, s *keys.RotatingSet) string {
	t.Helper()
	k, err := s.SigningKey()
	if err != nil {
		t.Fatal(err)
	}
	return k.ID
}

func TestRotatingSet_NewKeyIsPublishedBeforeItSigns(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := rotating(t, keys.NewMemoryStore(), clk, "ES256", nil)
	if _, err := s.SigningKey(); !errors.Is(err, keys.ErrNoSigningKey) {
		t.Fatalf("empty set: err = %v, want ErrNoSigningKey", err)
	}
	if created, err := s.EnsureSigner(ctx); err != nil || !created {
		t.Fatalf("EnsureSigner = %v, %v", created, err)
	}
	if created, _ := s.EnsureSigner(ctx); created {
		t.Fatal("EnsureSigner created a second key")
	}
	k1 := signingKID(t, s)
	k2, err := s.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if k2.State != keys.StatePending {
		t.Fatalf("new key state %s, want pending", k2.State)
	}
	if !published(s, k2.ID) {
		t.Fatal("pending key missing from JWKS")
	}
	clk.Advance(20*time.Minute - time.Second)
	if got := signingKID(t, s); got != k1 {
		t.Fatalf("signing with %s before the publication lead passed, want %s", got, k1)
	}
	clk.Advance(time.Second)
	if got := signingKID(t, s); got != k2.ID {
		t.Fatalf("signing with %s after the lead, want %s", got, k2.ID)
	}
	if st := states(s); st[k1] != keys.StateVerifyOnly || st[k2.ID] != keys.StateActive {
		t.Fatalf("states %v", st)
	}
	if s.MaxAge() > 20*time.Minute {
		t.Fatalf("JWKS max-age %s exceeds the publication lead", s.MaxAge())
	}
}

func published(p keys.Publisher, kid string) bool {
	for _, k := range p.PublicKeys() {
		if k.ID == kid {
			return true
		}
	}
	return false
}

func TestRotatingSet_OldKeyVerifiesUntilRefreshLifetimeThenRetires(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := rotating(t, keys.NewMemoryStore(), clk, "RS256", nil)
	if _, err := s.EnsureSigner(ctx); err != nil {
		t.Fatal(err)
	}
	c := codec(t, s, clk.Now)
	k1 := signingKID(t, s)
	// A refresh token signed by K1 at the last moment K1 signs lives a
	// full refresh lifetime past the rotation.
	k2, err := s.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(20*time.Minute - time.Second)
	life := 7 * 24 * time.Hour
	last, err := c.Sign(claimsAt(clk.Now(), life))
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second) // K2 signs from here
	newer, _ := c.Sign(claimsAt(clk.Now(), 2*life))
	if signingKID(t, s) != k2.ID {
		t.Fatal("K2 does not sign")
	}
	clk.Advance(life - 2*time.Second) // one second before K1's last token expires
	if _, err := c.Parse(last, ""); err != nil {
		t.Fatalf("K1 token refused inside its lifetime: %v", err)
	}
	if states(s)[k1] != keys.StateVerifyOnly || !published(s, k1) {
		t.Fatalf("K1 %s, published %v; want verify-only and published", states(s)[k1], published(s, k1))
	}
	clk.Advance(2 * time.Second)
	if _, err := c.Parse(last, ""); err == nil {
		t.Fatal("K1 token accepted after the refresh lifetime")
	}
	if states(s)[k1] != keys.StateRetired || published(s, k1) {
		t.Fatalf("K1 %s, published %v; want retired and gone from JWKS", states(s)[k1], published(s, k1))
	}
	if _, err := c.Parse(newer, ""); err != nil {
		t.Fatalf("K2 token refused: %v", err)
	}
}

func TestRotatingSet_RevokeFailsItsTokensAtOnce(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := rotating(t, keys.NewMemoryStore(), clk, "ES256", nil)
	s.EnsureSigner(ctx)
	c := codec(t, s, clk.Now)
	k1 := signingKID(t, s)
	tok, _ := c.Sign(claimsAt(clk.Now(), time.Hour))
	if err := s.Revoke(ctx, k1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Parse(tok, ""); err == nil {
		t.Fatal("token of a revoked key accepted")
	}
	if published(s, k1) || states(s)[k1] != keys.StateRevoked {
		t.Fatalf("revoked key: published %v, state %s", published(s, k1), states(s)[k1])
	}
	k2 := signingKID(t, s)
	if k2 == k1 {
		t.Fatal("the revoked key still signs")
	}
	tok2, _ := c.Sign(claimsAt(clk.Now(), time.Hour))
	if _, err := c.Parse(tok2, ""); err != nil {
		t.Fatalf("token of the replacement key refused: %v", err)
	}
}

func TestRotatingSet_RevokingTheSignerPromotesThePublishedSuccessor(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := rotating(t, keys.NewMemoryStore(), clk, "ES256", nil)
	s.EnsureSigner(ctx)
	k1 := signingKID(t, s)
	k2, _ := s.Rotate(ctx)
	if err := s.Revoke(ctx, k1); err != nil {
		t.Fatal(err)
	}
	if got := signingKID(t, s); got != k2.ID {
		t.Fatalf("signer %s, want the already published %s", got, k2.ID)
	}
	if n := len(s.List()); n != 2 {
		t.Fatalf("%d keys, want 2 (no new key needed)", n)
	}
}

func TestRotatingSet_RevokingThePendingSuccessorRotatesAgain(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := rotating(t, keys.NewMemoryStore(), clk, "ES256", nil)
	s.EnsureSigner(ctx)
	k1 := signingKID(t, s)
	k2, _ := s.Rotate(ctx)
	if err := s.Revoke(ctx, k2.ID); err != nil {
		t.Fatal(err)
	}
	var heir string
	for _, in := range s.List() {
		if in.State == keys.StatePending {
			heir = in.ID
		}
	}
	if heir == "" || heir == k2.ID {
		t.Fatalf("no new successor after revoking the pending key: %v", s.List())
	}
	// K1 keeps signing until the heir takes over, and never leaves a gap.
	clk.Advance(20*time.Minute - time.Second)
	if signingKID(t, s) != k1 {
		t.Fatal("K1 stopped signing early")
	}
	clk.Advance(time.Second)
	if signingKID(t, s) != heir {
		t.Fatal("the heir does not sign")
	}
}

func TestRotatingSet_RetireRefusesTheSignerAndKillsOthersNow(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := rotating(t, keys.NewMemoryStore(), clk, "ES256", nil)
	s.EnsureSigner(ctx)
	c := codec(t, s, clk.Now)
	k1 := signingKID(t, s)
	tok, _ := c.Sign(claimsAt(clk.Now(), 30*24*time.Hour))
	if err := s.Retire(ctx, k1); err == nil {
		t.Fatal("retired the only signing key")
	}
	s.Rotate(ctx)
	clk.Advance(time.Hour)
	if err := s.Retire(ctx, k1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Parse(tok, ""); err == nil {
		t.Fatal("token of a retired key accepted")
	}
	if err := s.Retire(ctx, "nope"); !errors.Is(err, tollgate.ErrKeyNotFound) {
		t.Fatalf("unknown kid: %v", err)
	}
}

func TestRotatingSet_InstancesShareTheStore(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	store := keys.NewMemoryStore()
	a := rotating(t, store, clk, "EdDSA", nil)
	a.EnsureSigner(ctx)
	b := rotating(t, store, clk, "EdDSA", nil)
	ca, cb := codec(t, a, clk.Now), codec(t, b, clk.Now)
	tok, _ := ca.Sign(claimsAt(clk.Now(), time.Hour))
	if _, err := cb.Parse(tok, ""); err != nil {
		t.Fatalf("instance B refused A's token: %v", err)
	}
	if err := a.Revoke(ctx, signingKID(t, b)); err != nil {
		t.Fatal(err)
	}
	if err := b.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cb.Parse(tok, ""); err == nil {
		t.Fatal("instance B accepted a token of a key A revoked, after reloading")
	}
	if signingKID(t, a) != signingKID(t, b) {
		t.Fatal("instances disagree on the signing key")
	}
}

func TestRotatingSet_PrivateKeysSealedUnderKEK(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	store := keys.NewMemoryStore()
	kek := make([]byte, 32)
	rand.Read(kek)
	s := rotating(t, store, clk, "ES256", kek)
	s.EnsureSigner(ctx)
	recs, _ := store.SigningKeys(ctx)
	if len(recs) != 1 || !recs[0].Encrypted {
		t.Fatalf("stored %d keys, encrypted %v", len(recs), recs[0].Encrypted)
	}
	if _, err := x509.ParsePKCS8PrivateKey(recs[0].PrivateKey); err == nil {
		t.Fatal("the stored private key parses as plain PKCS#8")
	}
	// Another instance with the same KEK signs with the same key.
	if signingKID(t, rotating(t, store, clk, "ES256", kek)) != recs[0].ID {
		t.Fatal("reloaded key differs")
	}
	opts := keys.Options{Store: store, Algorithm: "ES256", VerifyFor: time.Hour, Now: clk.Now}
	if _, err := keys.NewRotatingSet(ctx, opts); !errors.Is(err, keys.ErrNoKEK) {
		t.Fatalf("no KEK: err = %v, want ErrNoKEK", err)
	}
	opts.KEK = make([]byte, 32)
	if _, err := keys.NewRotatingSet(ctx, opts); !errors.Is(err, keys.ErrBadKEK) {
		t.Fatalf("wrong KEK: err = %v, want ErrBadKEK", err)
	}
	// A sealed key moved to another row (id) does not open.
	moved := *recs[0]
	moved.ID = "moved"
	moved.ActivatesAt = moved.ActivatesAt.Add(-time.Hour)
	other := keys.NewMemoryStore()
	other.CreateSigningKey(ctx, &moved)
	opts.Store, opts.KEK = other, kek
	if _, err := keys.NewRotatingSet(ctx, opts); !errors.Is(err, keys.ErrBadKEK) {
		t.Fatalf("moved row: err = %v, want ErrBadKEK", err)
	}
}

func TestNewRotatingSet_RefusesUnsafeTiming(t *testing.T) {
	_, err := keys.NewRotatingSet(context.Background(), keys.Options{Store: keys.NewMemoryStore(), JWKSMaxAge: time.Hour,
		PublishFor: time.Minute, VerifyFor: time.Hour})
	if err == nil {
		t.Fatal("accepted a publication lead shorter than the JWKS cache lifetime")
	}
	if _, err := keys.NewRotatingSet(context.Background(), keys.Options{Store: keys.NewMemoryStore()}); err == nil {
		t.Fatal("accepted no refresh lifetime")
	}
}

func TestRotateIfOlder_RotatesOnSchedule(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := rotating(t, keys.NewMemoryStore(), clk, "ES256", nil)
	s.EnsureSigner(ctx)
	if rotated, _, err := s.RotateIfOlder(ctx, 30*24*time.Hour); err != nil || rotated {
		t.Fatalf("rotated a fresh key: %v %v", rotated, err)
	}
	clk.Advance(30 * 24 * time.Hour)
	if rotated, _, err := s.RotateIfOlder(ctx, 30*24*time.Hour); err != nil || !rotated {
		t.Fatalf("did not rotate a 30 day old key: %v %v", rotated, err)
	}
	if rotated, _, _ := s.RotateIfOlder(ctx, 30*24*time.Hour); rotated {
		t.Fatal("rotated twice")
	}
}
