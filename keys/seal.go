package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
)

// ErrNoKEK is returned when a stored key is encrypted and no key-encryption
// key was configured, and ErrBadKEK when the configured one does not open it.
var (
	ErrNoKEK  = errors.New("keys: the signing key is encrypted at rest and no key-encryption key is configured")
	ErrBadKEK = errors.New("keys: the key-encryption key does not decrypt the signing key (wrong key, or tampered row)")
)

// sealer encrypts private keys at rest with AES-GCM under a key-encryption
// key. The additional data binds each ciphertext to its key's id and
// algorithm, so a sealed key copied onto another row does not open.
type sealer struct {
	aead   cipher.AEAD
	random io.Reader
}

func newSealer(kek []byte, random io.Reader) (*sealer, error) {
	if len(kek) == 0 {
		return nil, nil
	}
	if len(kek) != 32 {
		return nil, fmt.Errorf("keys: the key-encryption key must be 32 bytes (AES-256), got %d", len(kek))
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	if random == nil {
		random = rand.Reader
	}
	return &sealer{aead: aead, random: random}, nil
}

func aad(id, alg string) []byte { return []byte("tollgate signing key\x00" + id + "\x00" + alg) }

// seal returns nonce || ciphertext.
func (s *sealer) seal(plain []byte, id, alg string) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := io.ReadFull(s.random, nonce); err != nil {
		return nil, fmt.Errorf("keys: random: %w", err)
	}
	return s.aead.Seal(nonce, nonce, plain, aad(id, alg)), nil
}

func (s *sealer) open(sealed []byte, id, alg string) ([]byte, error) {
	if s == nil {
		return nil, ErrNoKEK
	}
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, ErrBadKEK
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], aad(id, alg))
	if err != nil {
		return nil, ErrBadKEK
	}
	return plain, nil
}
