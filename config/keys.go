package config

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tollgate/tollgate/token"
)

// DevKey describes a signing key that dev mode supplied in place of a
// missing or short SIGNING_KEY. serve prints it loudly.
type DevKey struct {
	// Path is the file the key is kept in (mode 0600).
	Path string
	// Created is true when this start generated the key.
	Created bool
	// ReplacedShort is true when a SIGNING_KEY was given but too short.
	ReplacedShort bool
}

// DevKeyPath is where dev mode keeps its generated HMAC key: next to the
// SQLite file (tollgate.db.dev-key), so restarts keep tokens valid, or
// tollgate.dev-key in the working directory for other databases.
func (c *Config) DevKeyPath() string {
	if db, err := c.Database(); err == nil && db.Driver == "sqlite" {
		return db.DSN + ".dev-key"
	}
	return "tollgate.dev-key"
}

// KeySet checks the signing key against ALGORITHM and returns the key set
// that signs and verifies tokens. A missing or short HMAC key is refused
// unless Dev is on; then a random key is read from, or generated once into,
// DevKeyPath, and the returned DevKey says so. random is the key's source
// (crypto/rand.Reader in production).
func (c *Config) KeySet(random io.Reader) (token.KeySet, *DevKey, error) {
	if !contains(Algorithms, c.Algorithm) {
		return nil, nil, fmt.Errorf("%sALGORITHM: %q is not supported; use one of %s", EnvPrefix, c.Algorithm, strings.Join(Algorithms, ", "))
	}
	if IsHMAC(c.Algorithm) {
		return c.hmacKeySet(random)
	}
	return c.asymmetricKeySet()
}

func (c *Config) hmacKeySet(random io.Reader) (token.KeySet, *DevKey, error) {
	secret := []byte(c.SigningKey.Value())
	if len(secret) >= token.MinHMACKeyLength {
		ks, err := token.NewHMACKeySet(c.Algorithm, secret)
		if err != nil {
			return nil, nil, fmt.Errorf("%sSIGNING_KEY: %w", EnvPrefix, err)
		}
		return ks, nil, nil
	}
	if !c.Dev {
		if len(secret) == 0 {
			return nil, nil, fmt.Errorf("%sSIGNING_KEY: not set; %s needs a secret of at least %d random bytes "+
				"(e.g. TOLLGATE_SIGNING_KEY=$(openssl rand -hex 32), or put it in a file named by TOLLGATE_SIGNING_KEY_FILE); "+
				"for local development only, run with --dev to generate one", EnvPrefix, c.Algorithm, token.MinHMACKeyLength)
		}
		return nil, nil, fmt.Errorf("%sSIGNING_KEY: must be at least %d bytes, got %d: a short HMAC secret can be brute-forced offline from any token "+
			"(generate one with: openssl rand -hex 32)", EnvPrefix, token.MinHMACKeyLength, len(secret))
	}
	dk := &DevKey{Path: c.DevKeyPath(), ReplacedShort: len(secret) > 0}
	key, created, err := loadOrCreateDevKey(dk.Path, random)
	if err != nil {
		return nil, nil, fmt.Errorf("%sDEV: dev signing key %s: %w", EnvPrefix, dk.Path, err)
	}
	dk.Created = created
	ks, err := token.NewHMACKeySet(c.Algorithm, key)
	if err != nil {
		return nil, nil, fmt.Errorf("%sDEV: dev signing key %s: %w", EnvPrefix, dk.Path, err)
	}
	return ks, dk, nil
}

// loadOrCreateDevKey reads the key in path, or writes a new random one
// there. The new file appears atomically (written aside, then linked into
// place), so two processes starting at once agree on one key.
func loadOrCreateDevKey(path string, random io.Reader) (key []byte, created bool, err error) {
	if b, err := os.ReadFile(path); err == nil {
		k := []byte(strings.TrimSpace(string(b)))
		if len(k) < token.MinHMACKeyLength {
			return nil, false, fmt.Errorf("holds fewer than %d bytes; delete it to generate a new one", token.MinHMACKeyLength)
		}
		return k, false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	raw := make([]byte, 32)
	if _, err := io.ReadFull(random, raw); err != nil {
		return nil, false, fmt.Errorf("reading random bytes: %w", err)
	}
	k := []byte(hex.EncodeToString(raw))
	tmp, err := os.CreateTemp(filepath.Dir(path), ".dev-key-*")
	if err != nil {
		return nil, false, err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, false, err
	}
	if _, err := tmp.Write(append(k, '\n')); err != nil {
		tmp.Close()
		return nil, false, err
	}
	if err := tmp.Close(); err != nil {
		return nil, false, err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Another process won the race: use its key.
			return loadOrCreateDevKey(path, random)
		}
		return nil, false, err
	}
	return k, true, nil
}

// asymmetricKeySet builds a one-key set from the PEM private key in
// SIGNING_KEY, checking it fits ALGORITHM. Its kid is derived from the
// public key, so every instance given the same PEM agrees on it.
func (c *Config) asymmetricKeySet() (token.KeySet, *DevKey, error) {
	pemText := []byte(c.SigningKey.Value())
	if len(pemText) == 0 {
		return nil, nil, fmt.Errorf("%sSIGNING_KEY: %s needs a PEM private key (set TOLLGATE_SIGNING_KEY_FILE to its path)", EnvPrefix, c.Algorithm)
	}
	method := jwt.GetSigningMethod(c.Algorithm)
	if method == nil {
		return nil, nil, fmt.Errorf("%sALGORITHM: %q is not supported", EnvPrefix, c.Algorithm)
	}
	var priv crypto.Signer
	var err error
	switch c.Algorithm[:2] {
	case "RS", "PS":
		var k *rsa.PrivateKey
		if k, err = jwt.ParseRSAPrivateKeyFromPEM(pemText); err == nil {
			if k.N.BitLen() < 2048 {
				return nil, nil, fmt.Errorf("%sSIGNING_KEY: RSA keys must be at least 2048 bits, got %d", EnvPrefix, k.N.BitLen())
			}
			priv = k
		}
	case "ES":
		var k *ecdsa.PrivateKey
		if k, err = jwt.ParseECPrivateKeyFromPEM(pemText); err == nil {
			want := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384()}[c.Algorithm]
			if k.Curve != want {
				return nil, nil, fmt.Errorf("%sSIGNING_KEY: %s needs a %s key, got %s", EnvPrefix, c.Algorithm, want.Params().Name, k.Curve.Params().Name)
			}
			priv = k
		}
	default: // EdDSA
		var k crypto.PrivateKey
		if k, err = jwt.ParseEdPrivateKeyFromPEM(pemText); err == nil {
			priv = k.(ed25519.PrivateKey)
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%sSIGNING_KEY: not a PEM private key for %s: %w", EnvPrefix, c.Algorithm, err)
	}
	pub := priv.Public()
	if c.VerifyingKey != "" {
		vk, err := parsePublicPEM(c.VerifyingKey)
		if err != nil {
			return nil, nil, fmt.Errorf("%sVERIFYING_KEY: %w", EnvPrefix, err)
		}
		if eq, ok := vk.(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(pub) {
			return nil, nil, fmt.Errorf("%sVERIFYING_KEY: is not the public half of SIGNING_KEY", EnvPrefix)
		}
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, nil, fmt.Errorf("%sSIGNING_KEY: %w", EnvPrefix, err)
	}
	sum := sha256.Sum256(der)
	ks, err := token.NewStaticKeySet(&token.Key{
		ID:      base64.RawURLEncoding.EncodeToString(sum[:12]),
		Method:  method,
		Private: priv,
		Public:  pub,
	})
	if err != nil {
		return nil, nil, err
	}
	return ks, nil, nil
}

func parsePublicPEM(text string) (crypto.PublicKey, error) {
	b := []byte(text)
	if k, err := jwt.ParseRSAPublicKeyFromPEM(b); err == nil {
		return k, nil
	}
	if k, err := jwt.ParseECPublicKeyFromPEM(b); err == nil {
		return k, nil
	}
	if k, err := jwt.ParseEdPublicKeyFromPEM(b); err == nil {
		return k, nil
	}
	return nil, errors.New("not a PEM public key")
}
