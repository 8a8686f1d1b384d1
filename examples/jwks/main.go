// Command jwks is an example downstream service that accepts Tollgate's
// access tokens knowing nothing but Tollgate's JWKS URL: no database, no
// shared secret. Keys are fetched, cached for the document's max-age, and
// refetched (once, rate limited) when a token names a kid it has not seen,
// which is how it follows Tollgate's key rotations.
//
//	TOLLGATE_JWKS_URL=https://auth.example.com/.well-known/jwks.json go run ./examples/jwks
//	curl -H "Authorization: Bearer $ACCESS" localhost:8081/hello
package main

import (
	"context"
	"encoding/json"
	"errors"
	"log"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/keys"
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
	srv := &http.Server{Addr: "127.0.0.1:8081", Handler: h, ReadHeaderTimeout: 5 * time.Second}
	log.Printf("listening on %s, verifying with %s", srv.Addr, jwksURL)
	log.Fatal(srv.ListenAndServe())
}

// newHandler wires a RemoteKeySet into a token codec and protects /hello.
// A service using Tollgate's middleware package passes the same codec to
// it instead of the small authenticate below.
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
	mux := http.NewServeMux()
	mux.Handle("GET /hello", authenticate(codec, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cl := r.Context().Value(claimsKey{}).(*tollgate.Claims)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"hello": cl.UserID})
	})))
	return mux, nil
}

type claimsKey struct{}

// authenticate accepts a Bearer access token verified by codec.
func authenticate(codec tollgate.TokenCodec, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			unauthorized(w, "not_authenticated", "Authentication credentials were not provided.")
			return
		}
		cl, err := codec.Parse(raw, tollgate.AccessToken)
		if err != nil {
			var e *tollgate.Error
			if !errors.As(err, &e) {
				e = tollgate.ErrTokenInvalid
			}
			unauthorized(w, e.Code, e.Message)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, cl)))
	})
}

func unauthorized(w http.ResponseWriter, code, detail string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="api"`)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	json.NewEncoder(w).Encode(map[string]string{"detail": detail, "code": code})
}
