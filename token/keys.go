package token

import (
	"errors"
	"fmt"

	"github.com/golang-jwt/jwt/v5"
)

// MinHMACKeyLength is the shortest HMAC secret accepted, in bytes.
const MinHMACKeyLength = 32

// Key is one signing or verification key. Private is what signs (an HMAC
// secret []byte, *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey);
// Public is what verifies (the same []byte for HMAC, else the public key).
// Keys are typed: a key is only ever used with the algorithm it was made
// for.
type Key struct {
	ID      string // kid; may be "" for a lone HMAC key (SimpleJWT sends none)
	Method  jwt.SigningMethod
	Private any
	Public  any
}

// KeySet supplies the key that signs new tokens and the keys that verify.
type KeySet interface {
	// SigningKey returns the key new tokens are signed with.
	SigningKey() (*Key, error)
	// VerificationKey returns the key for a token's kid and alg, or an
	// error when no such key verifies (unknown kid, retired key, or an
	// alg that is not the key's own).
	VerificationKey(kid, alg string) (*Key, error)
	// Algorithms is the allow-list handed to the parser.
	Algorithms() []string
}

// ErrUnknownKey is returned when no key matches a token's kid and alg.
var ErrUnknownKey = errors.New("token: no key for this kid and algorithm")

// StaticKeySet is a fixed set of keys: the first signs, all verify. It is
// what an HMAC deployment uses, and what tests use.
type StaticKeySet struct {
	keys []*Key
	algs []string
}

// NewStaticKeySet returns a key set over keys; keys[0] signs.
func NewStaticKeySet(keys ...*Key) (*StaticKeySet, error) {
	if len(keys) == 0 {
		return nil, errors.New("token: a key set needs at least one key")
	}
	s := &StaticKeySet{keys: keys}
	seen := map[string]bool{}
	for _, k := range keys {
		if k.Method == nil {
			return nil, errors.New("token: key without an algorithm")
		}
		if alg := k.Method.Alg(); !seen[alg] {
			seen[alg] = true
			s.algs = append(s.algs, alg)
		}
	}
	return s, nil
}

// NewHMACKeySet returns a key set with one HMAC secret for alg (HS256,
// HS384 or HS512). The secret must be at least MinHMACKeyLength bytes.
func NewHMACKeySet(alg string, secret []byte) (*StaticKeySet, error) {
	m, ok := jwt.GetSigningMethod(alg).(*jwt.SigningMethodHMAC)
	if !ok {
		return nil, fmt.Errorf("token: %q is not an HMAC algorithm", alg)
	}
	if len(secret) < MinHMACKeyLength {
		return nil, fmt.Errorf("token: the HMAC key must be at least %d bytes, got %d", MinHMACKeyLength, len(secret))
	}
	k := append([]byte(nil), secret...)
	return NewStaticKeySet(&Key{Method: m, Private: k, Public: k})
}

// SigningKey returns the first key.
func (s *StaticKeySet) SigningKey() (*Key, error) { return s.keys[0], nil }

// VerificationKey finds the key with this kid and alg. A token without a
// kid matches a key without one.
func (s *StaticKeySet) VerificationKey(kid, alg string) (*Key, error) {
	for _, k := range s.keys {
		if k.ID == kid && k.Method.Alg() == alg {
			return k, nil
		}
	}
	return nil, ErrUnknownKey
}

// Algorithms returns the algorithms of the keys.
func (s *StaticKeySet) Algorithms() []string { return s.algs }
