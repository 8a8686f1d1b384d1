// Command protected is a minimal Go service that accepts the access tokens of
// a Tollgate server (or of Django + SimpleJWT) signed with their shared HS256
// secret. GET /api/hello answers with the id of the token's user.
//
//	export TOLLGATE_SIGNING_KEY='the same secret as the token server (32+ bytes)'
//	go run ./examples/protected                  # listens on 127.0.0.1:8081; ADDR=:9000 to change
//
//	ACCESS=$(curl -s -d username=alice -d password=... 127.0.0.1:8000/api/auth/token/ | jq -r .access)
//	curl -H "Authorization: Bearer $ACCESS" localhost:8081/api/hello
//	{"user_id":42}
//
// Without a valid token the answer is 401 with SimpleJWT's JSON body and a
// WWW-Authenticate challenge. The whole integration is three calls:
// token.NewHMACKeySet, token.New and middleware.New.
package main

import (
	"encoding/json"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/token"
)

func main() {
	h, err := newHandler([]byte(os.Getenv("TOLLGATE_SIGNING_KEY")))
	if err != nil {
		log.Fatalf("TOLLGATE_SIGNING_KEY: %v", err)
	}
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = "127.0.0.1:8081"
	}
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	log.Printf("listening on %s", addr)
	log.Fatal(srv.ListenAndServe())
}

// newHandler protects the service's routes with the middleware, verifying
// access tokens with key.
func newHandler(key []byte) (http.Handler, error) {
	keys, err := token.NewHMACKeySet("HS256", key)
	if err != nil {
		return nil, err
	}
	codec, err := token.New(token.Config{Keys: keys})
	if err != nil {
		return nil, err
	}
	auth, err := middleware.New(middleware.Config{Tokens: codec})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /api/hello", auth(http.HandlerFunc(hello)))
	return mux, nil
}

// hello runs only for authenticated requests: the middleware put the
// verified claims in the request context.
func hello(w http.ResponseWriter, r *http.Request) {
	var body any
	if id, ok := middleware.UserIDFrom(r.Context()); ok {
		body = map[string]int64{"user_id": id}
	} else { // a user id that is not an integer (e.g. a UUID)
		claims, _ := middleware.ClaimsFrom(r.Context())
		body = map[string]string{"user_id": claims.UserID}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}
