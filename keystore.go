package tollgate

import (
	"context"
	"time"
)

// SigningKey is one token-signing key as persisted, so that every instance
// of a deployment signs and verifies with the same keys. Its state is not
// stored but follows from its dates and the clock (see the keys package):
// published from CreatedAt, signing from ActivatesAt (until a newer key
// activates), verifying until RetiresAt, dead at once from RevokedAt.
type SigningKey struct {
	ID        string // the kid
	Algorithm string // JOSE alg: RS256, ES256, EdDSA, ...
	// PrivateKey is the PKCS#8 DER private key (the raw secret for HMAC),
	// sealed with AES-GCM under the key-encryption key when Encrypted.
	// Empty for a verify-only key imported from a public PEM.
	PrivateKey []byte
	Encrypted  bool
	// PublicKey is the PKIX DER public key; empty for HMAC.
	PublicKey []byte

	CreatedAt   time.Time
	ActivatesAt time.Time
	RetiresAt   time.Time // zero: not scheduled
	RevokedAt   time.Time // zero: not revoked
}

// KeyStore persists signing keys. Implementations return ErrKeyNotFound
// for an unknown id and ErrKeyExists when CreateSigningKey meets an id that
// is taken.
type KeyStore interface {
	CreateSigningKey(ctx context.Context, k *SigningKey) error
	// SigningKeys returns every stored key, oldest ActivatesAt first.
	SigningKeys(ctx context.Context) ([]*SigningKey, error)
	// UpdateSigningKeyDates sets ActivatesAt, RetiresAt and RevokedAt of
	// the key k.ID; the key material never changes.
	UpdateSigningKeyDates(ctx context.Context, k *SigningKey) error
	// DeleteSigningKey removes a key (a retired one, long after its last
	// token expired).
	DeleteSigningKey(ctx context.Context, id string) error
}

// Errors of a KeyStore.
var (
	ErrKeyNotFound = &Error{Code: ENotFound, Message: "Signing key not found."}
	ErrKeyExists   = &Error{Code: EConflict, Message: "A signing key with that id already exists."}
)
