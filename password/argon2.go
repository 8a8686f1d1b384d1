package password

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2 variants as named in the encoded hash.
const (
	argon2id = "argon2id"
	argon2i  = "argon2i"
)

// argon2Hash is Django's Argon2PasswordHasher encoding: "argon2" followed by
// argon2-cffi's PHC string, "$argon2id$v=19$m=...,t=...,p=...$salt$key",
// salt and key in standard base64 without padding.
type argon2Hash struct {
	variant string
	version int
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

func (a argon2Hash) encode() string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("argon2$%s$v=%d$m=%d,t=%d,p=%d$%s$%s",
		a.variant, a.version, a.memory, a.time, a.threads, b64.EncodeToString(a.salt), b64.EncodeToString(a.key))
}

// parseArgon2 decodes what follows "argon2$".
func parseArgon2(rest string) (decoded, error) {
	parts := strings.Split(rest, "$")
	if len(parts) != 5 {
		// Argon2 1.0 hashes (no "v=" field) are the only 4-part form; x/crypto
		// implements version 1.3 alone.
		if len(parts) == 4 && strings.HasPrefix(parts[1], "m=") {
			return nil, fmt.Errorf("%w: argon2 version 1.0 hash", ErrUnsupported)
		}
		return nil, fmt.Errorf("%w: argon2 hash has %d fields, want 5", ErrMalformed, len(parts))
	}
	a := argon2Hash{variant: parts[0]}
	if a.variant != argon2id && a.variant != argon2i {
		return nil, fmt.Errorf("%w: argon2 variant %.16q", ErrUnsupported, a.variant)
	}
	v, ok := strings.CutPrefix(parts[1], "v=")
	if !ok {
		return nil, fmt.Errorf("%w: argon2 version field", ErrMalformed)
	}
	version, err := strconv.ParseUint(v, 10, 8)
	if err != nil {
		return nil, fmt.Errorf("%w: argon2 version: %v", ErrMalformed, err)
	}
	if version != argon2.Version {
		return nil, fmt.Errorf("%w: argon2 version %d", ErrUnsupported, version)
	}
	a.version = int(version)
	if a.memory, a.time, a.threads, err = parseArgon2Params(parts[2]); err != nil {
		return nil, err
	}
	if a.salt, err = decodeRawB64(parts[3], "salt"); err != nil {
		return nil, err
	}
	if a.key, err = decodeRawB64(parts[4], "hash"); err != nil {
		return nil, err
	}
	if len(a.salt) < 8 || len(a.key) < 4 {
		return nil, fmt.Errorf("%w: argon2 salt or hash too short", ErrMalformed)
	}
	if len(a.key) > maxKeyLen {
		return nil, fmt.Errorf("%w: argon2 hash of %d bytes", ErrTooCostly, len(a.key))
	}
	return a, nil
}

// parseArgon2Params reads "m=<KiB>,t=<passes>,p=<lanes>" in argon2-cffi's order.
func parseArgon2Params(s string) (memory, time uint32, threads uint8, err error) {
	fields := strings.Split(s, ",")
	if len(fields) != 3 {
		return 0, 0, 0, fmt.Errorf("%w: argon2 parameters %.40q", ErrMalformed, s)
	}
	var vals [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		digits, ok := strings.CutPrefix(fields[i], name)
		if !ok {
			return 0, 0, 0, fmt.Errorf("%w: argon2 parameters %.40q", ErrMalformed, s)
		}
		if vals[i], err = strconv.ParseUint(digits, 10, 32); err != nil {
			return 0, 0, 0, fmt.Errorf("%w: argon2 parameter %s: %v", ErrMalformed, name, err)
		}
	}
	m, t, p := vals[0], vals[1], vals[2]
	switch {
	case t < 1 || p < 1 || m < 8*p:
		return 0, 0, 0, fmt.Errorf("%w: argon2 parameters out of range (m=%d,t=%d,p=%d)", ErrMalformed, m, t, p)
	case p > 255:
		return 0, 0, 0, fmt.Errorf("%w: argon2 parallelism %d above 255", ErrUnsupported, p)
	case m > MaxArgon2Memory || t > MaxArgon2Time || m*t > MaxArgon2Work:
		return 0, 0, 0, fmt.Errorf("%w: argon2 m=%d,t=%d", ErrTooCostly, m, t)
	}
	return uint32(m), uint32(t), uint8(p), nil
}

func decodeRawB64(s, what string) ([]byte, error) {
	if len(s) > base64.RawStdEncoding.EncodedLen(maxSaltLen) {
		return nil, fmt.Errorf("%w: argon2 %s too long", ErrMalformed, what)
	}
	b, err := base64.RawStdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: argon2 %s: %v", ErrMalformed, what, err)
	}
	return b, nil
}

func (a argon2Hash) verify(password string) (bool, error) {
	derive := argon2.IDKey
	if a.variant == argon2i {
		derive = argon2.Key
	}
	got := derive([]byte(password), a.salt, a.time, a.memory, a.threads, uint32(len(a.key)))
	return subtle.ConstantTimeCompare(got, a.key) == 1, nil
}

func (a argon2Hash) work() uint64 { return uint64(a.memory) * uint64(a.time) }
