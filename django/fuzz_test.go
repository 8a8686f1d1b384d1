package django

import (
	"bytes"
	"errors"
	"os"
	"testing"
)

// FuzzReadUsers: nothing panics, every failure is ErrMalformed, and what is
// read has positive, distinct ids and a username. Seeds: the real fixtures
// plus testdata/fuzz/FuzzReadUsers.
//
//	go test ./django -run '^$' -fuzz FuzzReadUsers -fuzztime 30s
func FuzzReadUsers(f *testing.F) {
	for _, name := range []string{"users_tz.json", "users_naive.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		users, err := ReadUsers(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		ids := map[int64]bool{}
		for _, u := range users {
			if u.ID <= 0 || ids[u.ID] || u.Username == "" {
				t.Fatalf("bad user %+v", *u)
			}
			ids[u.ID] = true
		}
	})
}
