package keys

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tollgate/tollgate/token"
)

// JWKSPath and DiscoveryPath are where the documents are conventionally served.
const (
	JWKSPath      = "/.well-known/jwks.json"
	DiscoveryPath = "/.well-known/openid-configuration"
)

// Publisher supplies the public keys JWKS lists and how long a verifier may
// cache them. RotatingSet implements it; StaticPublisher wraps fixed keys.
type Publisher interface {
	// PublicKeys returns the asymmetric keys that verify now (pending ones
	// included, so caches learn them before they sign).
	PublicKeys() []*token.Key
	// MaxAge is the Cache-Control max-age of the document.
	MaxAge() time.Duration
}

// StaticPublisher publishes a fixed list of keys (PEM-configured keys).
type StaticPublisher struct {
	Keys []*token.Key  // the keys published, asymmetric only
	Age  time.Duration // Cache-Control max-age
}

// NewStaticPublisher publishes the asymmetric keys among keys.
func NewStaticPublisher(maxAge time.Duration, keys ...*token.Key) *StaticPublisher {
	p := &StaticPublisher{Age: maxAge}
	for _, k := range keys {
		if k != nil && !IsHMAC(k.Method.Alg()) {
			p.Keys = append(p.Keys, k)
		}
	}
	return p
}

// PublicKeys returns the keys.
func (p *StaticPublisher) PublicKeys() []*token.Key { return p.Keys }

// MaxAge returns the configured max-age.
func (p *StaticPublisher) MaxAge() time.Duration { return p.Age }

// JWKS returns the JSON Web Key Set of keys: public halves only, each with
// kid, alg and use "sig". HMAC keys are never included.
func JWKS(keys []*token.Key) jose.JSONWebKeySet {
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(keys))}
	for _, k := range keys {
		if IsHMAC(k.Method.Alg()) {
			continue
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Public, KeyID: k.ID, Algorithm: k.Method.Alg(), Use: "sig"})
	}
	return set
}

// JWKSHandler serves GET /.well-known/jwks.json. Cache-Control max-age is
// the publisher's MaxAge, which a RotatingSet keeps below the time a new
// key is published before it signs: every cached copy holds a key before
// its first token exists. A revoked key stays in caches up to MaxAge, which
// is why MaxAge should be short (minutes).
func JWKSHandler(p Publisher) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			methodNotAllowed(w)
			return
		}
		body, err := json.Marshal(JWKS(p.PublicKeys()))
		if err != nil {
			http.Error(w, `{"detail":"internal error","code":"internal"}`, http.StatusInternalServerError)
			return
		}
		writeJSON(w, r, body, p.MaxAge())
	})
}

// Discovery is the minimal OpenID-style discovery document: enough for
// standard verifiers (go-oidc, jose libraries) to find the keys.
type Discovery struct {
	Issuer        string   `json:"issuer"`
	JWKSURI       string   `json:"jwks_uri"`
	SigningAlgs   []string `json:"id_token_signing_alg_values_supported,omitempty"`
	ResponseTypes []string `json:"response_types_supported"`
	SubjectTypes  []string `json:"subject_types_supported"`
}

// DiscoveryHandler serves /.well-known/openid-configuration for issuer,
// whose JWKS is at jwksURI (absolute URLs).
func DiscoveryHandler(issuer, jwksURI string, algs []string, maxAge time.Duration) http.Handler {
	body, err := json.Marshal(Discovery{Issuer: issuer, JWKSURI: jwksURI, SigningAlgs: algs,
		ResponseTypes: []string{"id_token"}, SubjectTypes: []string{"public"}})
	if err != nil {
		panic(fmt.Sprintf("keys: discovery document: %v", err)) // strings only: cannot happen
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			methodNotAllowed(w)
			return
		}
		writeJSON(w, r, body, maxAge)
	})
}

func writeJSON(w http.ResponseWriter, r *http.Request, body []byte, maxAge time.Duration) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(maxAge/time.Second))+", must-revalidate")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

func methodNotAllowed(w http.ResponseWriter) {
	w.Header().Set("Allow", "GET, HEAD")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusMethodNotAllowed)
	_, _ = w.Write([]byte(`{"detail":"Method not allowed.","code":"method_not_allowed"}`))
}
