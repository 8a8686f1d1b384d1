package password

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// bcryptMaxPassword is where bcrypt stops reading: Django's plain
// BCryptPasswordHasher (with the bcrypt library of its era) silently ignored
// every byte after the 72nd, so the stored hashes only cover that prefix.
const bcryptMaxPassword = 72

// bcryptHash is Django's BCryptSHA256PasswordHasher ("bcrypt_sha256$" +
// bcrypt of the lowercase hex SHA-256 of the password) or BCryptPasswordHasher
// ("bcrypt$" + bcrypt of the password). The bcrypt part is the modular crypt
// string "$2b$12$<salt><hash>"; x/crypto/bcrypt reads any minor version
// letter, so Django's "$2b$" needs no conversion.
type bcryptHash struct {
	sha256 bool
	crypt  []byte
	cost   int
}

// parseBcrypt decodes what follows "bcrypt_sha256$" or "bcrypt$".
func parseBcrypt(alg, rest string) (decoded, error) {
	h := bcryptHash{sha256: alg == "bcrypt_sha256", crypt: []byte(rest)}
	if len(rest) != 60 || rest[0] != '$' || rest[1] != '2' {
		return nil, fmt.Errorf("%w: %s hash is not a 60-byte $2 bcrypt string", ErrMalformed, alg)
	}
	cost, err := bcrypt.Cost(h.crypt)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, alg, err)
	}
	if cost > MaxBcryptCost {
		return nil, fmt.Errorf("%w: %s cost %d", ErrTooCostly, alg, cost)
	}
	h.cost = cost
	return h, nil
}

func (h bcryptHash) verify(password string) (bool, error) {
	secret := []byte(password)
	if h.sha256 {
		sum := sha256.Sum256(secret)
		secret = []byte(hex.EncodeToString(sum[:]))
	} else if len(secret) > bcryptMaxPassword {
		secret = secret[:bcryptMaxPassword]
	}
	err := bcrypt.CompareHashAndPassword(h.crypt, secret)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	default:
		return false, fmt.Errorf("%w: bcrypt: %v", ErrMalformed, err)
	}
}

func (h bcryptHash) work() uint64 { return 1 << h.cost }
