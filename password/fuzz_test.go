package password

import (
	"errors"
	"testing"
)

// FuzzVerify feeds arbitrary stored hashes (and passwords) to the parser and
// to Verify: nothing may panic, every failure must be one of the package's
// errors, and a hash that verifies must parse. The seed corpus is in
// testdata/fuzz/FuzzVerify plus the cheap Django vectors.
//
//	go test ./password -run '^$' -fuzz FuzzVerify -fuzztime 30s
func FuzzVerify(f *testing.F) {
	for _, v := range loadDjangoVectors(f) {
		if !v.DefaultCost {
			f.Add(v.Password, v.Encoded)
		}
	}
	h := testHasher(f)
	f.Fuzz(func(t *testing.T, password, encoded string) {
		d, err := parse(encoded)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrTooCostly) {
				t.Fatalf("parse(%q) = %v: not a package error", encoded, err)
			}
		} else if d.work() > 1<<16 {
			// Within the limits but slow: the limits bound a login, not a fuzz run.
			return
		}
		ok, _, err := h.Verify(password, encoded)
		if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrTooCostly) {
			t.Fatalf("Verify(%q) = %v: not a package error", encoded, err)
		}
		if ok && d == nil {
			t.Fatalf("Verify(%q) = true for a hash that does not parse", encoded)
		}
	})
}
