// Package keys manages Tollgate's signing keys: generating and loading them
// (PEM), a rotating key set persisted in a tollgate.KeyStore so that every
// instance shares it, the JWKS and discovery documents that publish the
// public keys, and RemoteKeySet, which verifies tokens in other services
// from nothing but the JWKS URL.
//
// Every key is typed: it carries the one algorithm it was made for, and a
// token is only ever verified with a key whose algorithm is the token's own
// (so an RSA public key can never be used as an HMAC secret).
package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tollgate/tollgate/token"
)

// Algorithms are the JOSE algorithms Tollgate signs with.
var Algorithms = []string{"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"}

// AsymmetricAlgorithms are those whose keys can be published in JWKS.
var AsymmetricAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"}

// RSABits is the size of generated RSA keys; MinRSABits the smallest loaded.
const (
	RSABits    = 2048
	MinRSABits = 2048
)

// ErrAlgorithm is returned for an algorithm Tollgate does not sign with, or
// a key that does not fit its algorithm.
var ErrAlgorithm = errors.New("keys: unsupported algorithm or key type")

// IsHMAC reports whether alg is a symmetric (HS*) algorithm.
func IsHMAC(alg string) bool { return strings.HasPrefix(alg, "HS") }

// method returns the golang-jwt signing method of one of Algorithms.
func method(alg string) (jwt.SigningMethod, error) {
	for _, a := range Algorithms {
		if a == alg {
			return jwt.GetSigningMethod(alg), nil
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrAlgorithm, alg)
}

// Generate makes a new private key for alg from random (crypto/rand.Reader
// when nil): RSA 2048 for RS*/PS256, P-256 or P-384 for ES256/ES384,
// Ed25519 for EdDSA, and a secret of the hash's size for HS*.
func Generate(alg string, random io.Reader) (*token.Key, error) {
	if random == nil {
		random = rand.Reader
	}
	m, err := method(alg)
	if err != nil {
		return nil, err
	}
	var priv any
	switch alg {
	case "HS256", "HS384", "HS512":
		secret := make([]byte, m.(*jwt.SigningMethodHMAC).Hash.Size())
		if _, err := io.ReadFull(random, secret); err != nil {
			return nil, fmt.Errorf("keys: random: %w", err)
		}
		if len(secret) < token.MinHMACKeyLength {
			secret = append(secret, make([]byte, token.MinHMACKeyLength-len(secret))...)
		}
		return newKey("", m, secret)
	case "RS256", "RS384", "RS512", "PS256":
		priv, err = rsa.GenerateKey(random, RSABits)
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), random)
	case "ES384":
		priv, err = ecdsa.GenerateKey(elliptic.P384(), random)
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(random)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: generate %s key: %w", alg, err)
	}
	return newKey("", m, priv)
}

// newKey checks that priv (a private key, an HMAC secret, or for a
// verify-only key a public key) fits m and returns the token.Key, with kid
// derived from the public key when kid is "".
func newKey(kid string, m jwt.SigningMethod, k any) (*token.Key, error) {
	alg := m.Alg()
	key := &token.Key{ID: kid, Method: m}
	switch k := k.(type) {
	case []byte:
		if !IsHMAC(alg) {
			return nil, fmt.Errorf("%w: a secret for %s", ErrAlgorithm, alg)
		}
		if len(k) < token.MinHMACKeyLength {
			return nil, fmt.Errorf("keys: the HMAC key must be at least %d bytes", token.MinHMACKeyLength)
		}
		key.Private, key.Public = k, k
		if key.ID == "" {
			var b [12]byte
			if _, err := io.ReadFull(rand.Reader, b[:]); err != nil {
				return nil, err
			}
			key.ID = base64.RawURLEncoding.EncodeToString(b[:])
		}
		return key, nil
	case *rsa.PrivateKey:
		key.Private, key.Public = k, &k.PublicKey
	case *ecdsa.PrivateKey:
		key.Private, key.Public = k, &k.PublicKey
	case ed25519.PrivateKey:
		key.Private, key.Public = k, k.Public()
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		key.Public = k
	default:
		return nil, fmt.Errorf("%w: %T", ErrAlgorithm, k)
	}
	if err := fits(alg, key.Public); err != nil {
		return nil, err
	}
	if key.ID == "" {
		id, err := KeyID(key.Public)
		if err != nil {
			return nil, err
		}
		key.ID = id
	}
	return key, nil
}

// fits reports whether the public key pub can be used with alg.
func fits(alg string, pub any) error {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		if !strings.HasPrefix(alg, "RS") && !strings.HasPrefix(alg, "PS") {
			break
		}
		if p.N.BitLen() < MinRSABits {
			return fmt.Errorf("keys: RSA keys must be at least %d bits, got %d", MinRSABits, p.N.BitLen())
		}
		return nil
	case *ecdsa.PublicKey:
		if (alg == "ES256" && p.Curve == elliptic.P256()) || (alg == "ES384" && p.Curve == elliptic.P384()) {
			return nil
		}
	case ed25519.PublicKey:
		if alg == "EdDSA" {
			return nil
		}
	}
	return fmt.Errorf("%w: a %T key cannot sign %s", ErrAlgorithm, pub, alg)
}

// KeyID derives a kid from a public key: base64url of the first 12 bytes of
// the SHA-256 of its PKIX DER, the same as config's PEM keys, so instances
// given the same key agree on its kid.
func KeyID(pub any) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("keys: %w", err)
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:12]), nil
}

// ParsePrivateKeyPEM reads the first PEM block of text as a private key in
// PKCS#8 ("PRIVATE KEY"), PKCS#1 ("RSA PRIVATE KEY") or SEC 1 ("EC PRIVATE
// KEY") form.
func ParsePrivateKeyPEM(text []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(text)
	if block == nil {
		return nil, errors.New("keys: no PEM block found")
	}
	if block.Headers["Proc-Type"] != "" {
		return nil, errors.New("keys: encrypted PEM is not supported; decrypt it or use the key-encryption key")
	}
	var k any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("keys: PEM block %q is not a private key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: %s: %w", block.Type, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: %T", ErrAlgorithm, k)
	}
	return s, nil
}

// ParsePublicKeyPEM reads the first PEM block of text as a public key:
// PKIX ("PUBLIC KEY"), PKCS#1 ("RSA PUBLIC KEY") or a certificate's.
func ParsePublicKeyPEM(text []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(text)
	if block == nil {
		return nil, errors.New("keys: no PEM block found")
	}
	switch block.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("keys: %w", err)
		}
		return k, nil
	case "RSA PUBLIC KEY":
		k, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("keys: %w", err)
		}
		return k, nil
	case "CERTIFICATE":
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("keys: %w", err)
		}
		return c.PublicKey, nil
	}
	return nil, fmt.Errorf("keys: PEM block %q is not a public key", block.Type)
}

// FromPEM returns the key for alg in text: a private key (it signs and
// verifies) or, for asymmetric algorithms, a public key (verify-only). kid
// "" derives the kid from the public key.
func FromPEM(alg, kid string, text []byte) (*token.Key, error) {
	m, err := method(alg)
	if err != nil {
		return nil, err
	}
	if IsHMAC(alg) {
		return nil, fmt.Errorf("%w: %s takes a secret, not a PEM key", ErrAlgorithm, alg)
	}
	if priv, err := ParsePrivateKeyPEM(text); err == nil {
		return newKey(kid, m, priv)
	}
	pub, err := ParsePublicKeyPEM(text)
	if err != nil {
		return nil, fmt.Errorf("keys: neither a private nor a public PEM key: %w", err)
	}
	return newKey(kid, m, pub)
}

// EncodePrivateKeyPEM returns the PKCS#8 PEM of a private key.
func EncodePrivateKeyPEM(priv any) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// EncodePublicKeyPEM returns the PKIX PEM of a public key.
func EncodePublicKeyPEM(pub any) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
