package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/keys"
	"github.com/tollgate/tollgate/token"
)

// TestDownstream_AcceptsTollgateTokensFromJWKSAlone runs a Tollgate key set
// behind a JWKS endpoint and this example in front of it.
func TestDownstream_AcceptsTollgateTokensFromJWKSAlone(t *testing.T) {
	ctx := context.Background()
	set, err := keys.NewRotatingSet(ctx, keys.Options{Store: keys.NewMemoryStore(), Algorithm: "ES256", VerifyFor: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	set.EnsureSigner(ctx)
	issuer, _ := token.New(token.Config{Keys: set})
	jwks := httptest.NewServer(keys.JWKSHandler(set))
	defer jwks.Close()
	h, err := newHandler(jwks.URL+keys.JWKSPath, "", keys.WithHTTPClient(jwks.Client()))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	access, _ := issuer.Sign(&tollgate.Claims{Type: tollgate.AccessToken, JTI: "j", UserID: "7", IssuedAt: now, ExpiresAt: now.Add(time.Minute)})
	refresh, _ := issuer.Sign(&tollgate.Claims{Type: tollgate.RefreshToken, JTI: "j", UserID: "7", IssuedAt: now, ExpiresAt: now.Add(time.Minute)})
	for _, tc := range []struct {
		name   string
		header string
		status int
	}{
		{"access token", "Bearer " + access, 200},
		{"refresh token", "Bearer " + refresh, 401},
		{"garbage", "Bearer x.y.z", 401},
		{"none", "", 401},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/hello", nil)
		if tc.header != "" {
			req.Header.Set("Authorization", tc.header)
		}
		h.ServeHTTP(rec, req)
		if rec.Code != tc.status {
			t.Errorf("%s: status %d, want %d (%s)", tc.name, rec.Code, tc.status, rec.Body)
		}
	}
}
