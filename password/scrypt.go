package password

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/scrypt"
)

// scryptKeyLen is the dklen Django's ScryptPasswordHasher always uses.
const scryptKeyLen = 64

// scryptHash is Django's ScryptPasswordHasher (Django 4.0 and later):
// "scrypt$<N>$<salt>$<r>$<p>$<standard base64 of a 64-byte key>", the salt
// used as its ASCII text.
type scryptHash struct {
	n, r, p int
	salt    string
	key     []byte
}

// parseScrypt decodes what follows "scrypt$".
func parseScrypt(rest string) (decoded, error) {
	parts := strings.Split(rest, "$")
	if len(parts) != 5 {
		return nil, fmt.Errorf("%w: scrypt hash has %d fields, want 5", ErrMalformed, len(parts))
	}
	var nrp [3]uint64
	for i, s := range []string{parts[0], parts[2], parts[3]} {
		v, err := strconv.ParseUint(s, 10, 32)
		if err != nil || v < 1 {
			return nil, fmt.Errorf("%w: scrypt parameter %.20q", ErrMalformed, s)
		}
		nrp[i] = v
	}
	n, r, p := nrp[0], nrp[1], nrp[2]
	if n < 2 || n&(n-1) != 0 {
		return nil, fmt.Errorf("%w: scrypt N=%d is not a power of two", ErrMalformed, n)
	}
	// Divisions, not products: three 32-bit factors overflow 64 bits.
	if n > MaxScryptMemory/128/r || p > MaxScryptWork/n/r {
		return nil, fmt.Errorf("%w: scrypt N=%d,r=%d,p=%d", ErrTooCostly, n, r, p)
	}
	h := scryptHash{n: int(n), r: int(r), p: int(p), salt: parts[1]}
	if len(h.salt) > maxSaltLen {
		return nil, fmt.Errorf("%w: scrypt salt too long", ErrMalformed)
	}
	var err error
	if h.key, err = base64.StdEncoding.Strict().DecodeString(parts[4]); err != nil {
		return nil, fmt.Errorf("%w: scrypt hash: %v", ErrMalformed, err)
	}
	if len(h.key) != scryptKeyLen {
		return nil, fmt.Errorf("%w: scrypt hash of %d bytes", ErrMalformed, len(h.key))
	}
	return h, nil
}

func (h scryptHash) verify(password string) (bool, error) {
	got, err := scrypt.Key([]byte(password), []byte(h.salt), h.n, h.r, h.p, len(h.key))
	if err != nil {
		return false, fmt.Errorf("%w: scrypt: %v", ErrMalformed, err)
	}
	return subtle.ConstantTimeCompare(got, h.key) == 1, nil
}

func (h scryptHash) work() uint64 { return uint64(h.n) * uint64(h.r) * uint64(h.p) }
