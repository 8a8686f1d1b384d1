package password

import (
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// pbkdf2Hash is Django's PBKDF2PasswordHasher (and its SHA-1 sibling):
// "pbkdf2_sha256$<iterations>$<salt>$<standard base64 of the key>", where
// the salt is used as its ASCII text and the key is one digest long.
type pbkdf2Hash struct {
	newHash    func() hash.Hash
	iterations int
	salt       string
	key        []byte
}

// parsePBKDF2 decodes what follows "pbkdf2_sha256$" or "pbkdf2_sha1$".
func parsePBKDF2(alg, rest string) (decoded, error) {
	parts := strings.Split(rest, "$")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: %s hash has %d fields, want 3", ErrMalformed, alg, len(parts))
	}
	h := pbkdf2Hash{newHash: sha256.New, salt: parts[1]}
	if alg == "pbkdf2_sha1" {
		h.newHash = sha1.New
	}
	iterations, err := strconv.ParseUint(parts[0], 10, 63)
	if err != nil || iterations < 1 {
		return nil, fmt.Errorf("%w: %s iterations %.20q", ErrMalformed, alg, parts[0])
	}
	if iterations > MaxPBKDF2Iterations {
		return nil, fmt.Errorf("%w: %s with %d iterations", ErrTooCostly, alg, iterations)
	}
	h.iterations = int(iterations)
	if len(h.salt) > maxSaltLen {
		return nil, fmt.Errorf("%w: %s salt too long", ErrMalformed, alg)
	}
	if h.key, err = base64.StdEncoding.Strict().DecodeString(parts[2]); err != nil {
		return nil, fmt.Errorf("%w: %s hash: %v", ErrMalformed, alg, err)
	}
	if len(h.key) != h.newHash().Size() {
		return nil, fmt.Errorf("%w: %s hash of %d bytes", ErrMalformed, alg, len(h.key))
	}
	return h, nil
}

func (h pbkdf2Hash) verify(password string) (bool, error) {
	got, err := pbkdf2.Key(h.newHash, password, []byte(h.salt), h.iterations, len(h.key))
	if err != nil {
		return false, fmt.Errorf("password: pbkdf2: %w", err)
	}
	return subtle.ConstantTimeCompare(got, h.key) == 1, nil
}

func (h pbkdf2Hash) work() uint64 { return uint64(h.iterations) }
