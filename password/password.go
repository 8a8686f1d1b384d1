// Package password hashes passwords with argon2id and verifies the hashes a
// Django user table holds, so users imported from Django log in with their
// old passwords and are upgraded to argon2id on their first login.
//
// Hashes are written in Django's own Argon2PasswordHasher format
// ("argon2$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>"), so a table written
// by Tollgate can go back to Django too. Verify understands:
//
//   - argon2$argon2id$... and argon2$argon2i$... (Django's Argon2PasswordHasher, old and new)
//   - pbkdf2_sha256$... and pbkdf2_sha1$... (Django's default and its predecessor)
//   - bcrypt_sha256$$2b$... and bcrypt$$2b$... (Django's BCryptSHA256PasswordHasher and BCryptPasswordHasher)
//   - scrypt$... (Django 4.0's ScryptPasswordHasher)
//
// Django's unusable passwords ("!" followed by random characters) and the
// empty string never verify. Parameters stored in a hash are bounded (see
// the Max constants) so a hostile row cannot make one login cost minutes.
// All crypto is golang.org/x/crypto or the standard library.
package password

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/tollgate/tollgate"
)

// Errors returned by Verify. Compare with errors.Is; the service treats any
// of them as "this password does not verify", never as a server error.
var (
	// ErrMalformed: the stored hash is not a well-formed hash of a known format.
	ErrMalformed = errors.New("password: malformed hash")
	// ErrUnsupported: the hash is of an algorithm (or argon2 version) this package does not verify.
	ErrUnsupported = errors.New("password: unsupported hash algorithm")
	// ErrTooCostly: the hash's stored work parameters exceed the Max limits.
	ErrTooCostly = errors.New("password: hash parameters exceed the allowed work")
)

// Limits on the work parameters read from a stored hash. They are far above
// any sane configuration (Django's defaults are argon2 m=100 MiB t=2, pbkdf2
// <= 1.2M iterations, bcrypt cost 12, scrypt N=2^14 r=8 p=1) and far below
// what would let one crafted row stall a login for minutes or exhaust memory.
const (
	MaxArgon2Memory     = 1 << 20 // KiB (1 GiB)
	MaxArgon2Time       = 64
	MaxArgon2Work       = 1 << 22 // memory (KiB) x time: 4 GiB of block passes
	MaxPBKDF2Iterations = 10_000_000
	MaxBcryptCost       = 16
	MaxScryptMemory     = 1 << 30 // bytes (128*N*r)
	MaxScryptWork       = 1 << 26 // N*r*p; Django's default is 1<<17
	maxSaltLen          = 1024    // bytes, any format
	maxKeyLen           = 1024    // bytes of an argon2 tag
)

// UnusablePrefix starts Django's unusable passwords (set_unusable_password).
const UnusablePrefix = "!"

// Params are the argon2id parameters of new hashes.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8  // lanes (p)
	SaltLen uint32 // bytes of random salt
	KeyLen  uint32 // bytes of derived key
}

// DefaultParams returns OWASP's recommended argon2id configuration
// (m=19 MiB, t=2, p=1) with a 16-byte salt and a 32-byte key.
func DefaultParams() Params {
	return Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// InsecureTestParams returns parameters that make hashing take microseconds.
// They are for tests only: a hash made with them falls to a GPU in moments.
func InsecureTestParams() Params {
	return Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// Validate reports why p cannot be used for new hashes, or nil.
func (p Params) Validate() error {
	switch {
	case p.Threads < 1:
		return errors.New("password: argon2 threads must be at least 1")
	case p.Time < 1 || p.Time > MaxArgon2Time:
		return fmt.Errorf("password: argon2 time must be within 1..%d", MaxArgon2Time)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > MaxArgon2Memory:
		return fmt.Errorf("password: argon2 memory must be within 8*threads..%d KiB", MaxArgon2Memory)
	case uint64(p.Memory)*uint64(p.Time) > MaxArgon2Work:
		return fmt.Errorf("password: argon2 memory*time must be at most %d", MaxArgon2Work)
	case p.SaltLen < 8 || p.SaltLen > maxSaltLen:
		return fmt.Errorf("password: salt length must be within 8..%d bytes", maxSaltLen)
	case p.KeyLen < 16 || p.KeyLen > maxKeyLen:
		return fmt.Errorf("password: key length must be within 16..%d bytes", maxKeyLen)
	}
	return nil
}

// Hasher implements tollgate.PasswordHasher: argon2id for new hashes,
// Django's formats for verification. It is safe for concurrent use.
//
// At most GOMAXPROCS hashes run at once; further callers wait their turn.
// Hashing is CPU-bound, so this costs no throughput, and it bounds memory:
// each argon2 hash holds its whole memory parameter (19 MiB by default, 100
// MiB for a hash at Django's defaults) until it is done, and a burst of
// logins would otherwise hold that many times over.
type Hasher struct {
	params Params
	rand   io.Reader
	slots  chan struct{}
}

var _ tollgate.PasswordHasher = (*Hasher)(nil)

// New returns a Hasher that hashes with p. random supplies salts; nil means
// crypto/rand (tests pass a fixed reader to get reproducible hashes).
func New(p Params, random io.Reader) (*Hasher, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if random == nil {
		random = rand.Reader
	}
	return &Hasher{params: p, rand: random, slots: make(chan struct{}, runtime.GOMAXPROCS(0))}, nil
}

// acquire waits for one of the hashing slots; the caller must release it.
func (h *Hasher) acquire() { h.slots <- struct{}{} }
func (h *Hasher) release() { <-h.slots }

// Params returns the parameters new hashes are made with.
func (h *Hasher) Params() Params { return h.params }

// Hash returns password hashed with argon2id in Django's format.
func (h *Hasher) Hash(password string) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	if _, err := io.ReadFull(h.rand, salt); err != nil {
		return "", fmt.Errorf("password: reading salt: %w", err)
	}
	h.acquire()
	key := argon2.IDKey([]byte(password), salt, h.params.Time, h.params.Memory, h.params.Threads, h.params.KeyLen)
	h.release()
	return argon2Hash{
		variant: argon2id, version: argon2.Version,
		memory: h.params.Memory, time: h.params.Time, threads: h.params.Threads,
		salt: salt, key: key,
	}.encode(), nil
}

// Verify reports whether password matches the encoded hash, and, when it
// does, whether the hash should be replaced by Hash(password) because it is
// not argon2id with this hasher's parameters. A malformed, unsupported or
// too costly hash returns an error wrapping ErrMalformed, ErrUnsupported or
// ErrTooCostly; an unusable or empty one returns (false, false, nil).
//
// Every path that does not reach a real comparison still spends one hash
// at this hasher's parameters (as Django does), so a user without a usable
// password takes as long to reject as one with a wrong password.
func (h *Hasher) Verify(password, encoded string) (ok, needsRehash bool, err error) {
	if encoded == "" || strings.HasPrefix(encoded, UnusablePrefix) {
		h.spendDummyWork(password)
		return false, false, nil
	}
	d, err := parse(encoded)
	if err != nil {
		h.spendDummyWork(password)
		return false, false, err
	}
	h.acquire()
	ok, err = d.verify(password)
	h.release()
	if err != nil || !ok {
		return false, false, err
	}
	return true, h.needsRehash(d), nil
}

// NeedsRehash reports whether a successful login would replace encoded:
// whether it is anything but an argon2id hash with this hasher's parameters.
// It is false for an unusable or empty password, which cannot log in. An
// import can so count the users to be upgraded without their passwords.
func (h *Hasher) NeedsRehash(encoded string) bool {
	if encoded == "" || strings.HasPrefix(encoded, UnusablePrefix) {
		return false
	}
	d, err := parse(encoded)
	if err != nil {
		return true
	}
	return h.needsRehash(d)
}

// Check reports whether encoded is a hash this package can verify: nil for
// a well-formed hash of a supported algorithm within the work limits (and
// for an unusable or empty password, which is deliberate), else an error
// wrapping ErrMalformed, ErrUnsupported or ErrTooCostly. An import uses it
// to name the users who could never log in with their old password.
func Check(encoded string) error {
	if encoded == "" || strings.HasPrefix(encoded, UnusablePrefix) {
		return nil
	}
	_, err := parse(encoded)
	return err
}

func (h *Hasher) needsRehash(d decoded) bool {
	a, isArgon := d.(argon2Hash)
	if !isArgon || a.variant != argon2id || a.version != argon2.Version {
		return true
	}
	return a.memory != h.params.Memory || a.time != h.params.Time || a.threads != h.params.Threads ||
		uint32(len(a.key)) != h.params.KeyLen || uint32(len(a.salt)) < h.params.SaltLen
}

// spendDummyWork costs what hashing a password costs, and is thrown away.
func (h *Hasher) spendDummyWork(password string) {
	var salt [16]byte
	h.acquire()
	defer h.release()
	_ = argon2.IDKey([]byte(password), salt[:], h.params.Time, h.params.Memory, h.params.Threads, h.params.KeyLen)
}

// decoded is a parsed stored hash of one of the supported formats.
type decoded interface {
	// verify recomputes the hash of password and compares in constant time.
	verify(password string) (bool, error)
	// work is a rough cost estimate, used by the fuzz target to skip slow inputs.
	work() uint64
}

// parse identifies the algorithm by its Django prefix and decodes the rest.
func parse(encoded string) (decoded, error) {
	alg, rest, found := strings.Cut(encoded, "$")
	if !found {
		return nil, fmt.Errorf("%w: no algorithm prefix", ErrMalformed)
	}
	switch alg {
	case "argon2":
		return parseArgon2(rest)
	case "pbkdf2_sha256", "pbkdf2_sha1":
		return parsePBKDF2(alg, rest)
	case "bcrypt_sha256", "bcrypt":
		return parseBcrypt(alg, rest)
	case "scrypt":
		return parseScrypt(rest)
	}
	if len(alg) > 32 {
		alg = alg[:32]
	}
	return nil, fmt.Errorf("%w: %q", ErrUnsupported, alg)
}
