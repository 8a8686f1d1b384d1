// Command jwks is an example downstream service that accepts Tollgate's
// access tokens knowing nothing but Tollgate's JWKS URL: no database, no
// shared secret. Keys are fetched, cached for the document's max-age, and
// refetched (once, rate limited) when a token names a kid it has not seen,
// which is how it follows Tollgate's key rotations.
//
//	TOLLGATE_JWKS_URL=https://auth.example.com/.well-known/jwks.json go run ./examples/jwks
//	curl -H "Authorization: Bearer $ACCESS" 127.0.0.1:8082/hello   # ADDR=... to change
package main

import (
	"context"
	"encoding/json"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/tollgate/tollgate/keys"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/token"
)

func main() {
	jwksURL := os.Getenv("TOLLGATE_JWKS_URL")
	if jwksURL == "" {
		log.Fatal("set TOLLGATE_JWKS_URL to Tollgate's /.well-known/jwks.json")
	}
	h, err := newHandler(jwksURL, os.Getenv("TOLLGATE_ISSUER"))
	if err != nil {
		log.Fatal(err)
	}
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = "127.0.0.1:8082"
	}
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	log.Printf("listening on %s, verifying with %s", srv.Addr, jwksURL)
	log.Fatal(srv.ListenAndServe())
}

// newHandler wires a RemoteKeySet into a token codec, and the codec into
// Tollgate's middleware, which protects /hello.
func newHandler(jwksURL, issuer string, opts ...keys.RemoteOption) (http.Handler, error) {
	remote, err := keys.NewRemoteKeySet(jwksURL, opts...)
	if err != nil {
		return nil, err
	}
	// Fail fast on a wrong URL, but start anyway if Tollgate is briefly
	// down: the first token will fetch again.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := remote.Refresh(ctx); err != nil {
		log.Printf("JWKS not reachable yet: %v", err)
	}
	codec, err := token.New(token.Config{Keys: remote, Issuer: issuer})
	if err != nil {
		return nil, err
	}
	auth, err := middleware.New(middleware.Config{Tokens: codec})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /hello", auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cl, _ := middleware.ClaimsFrom(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"hello": cl.UserID})
	})))
	return mux, nil
}
