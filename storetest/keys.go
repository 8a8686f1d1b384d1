package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tollgate/tollgate"
)

// RunKeyStore runs the cases every tollgate.KeyStore must pass. Times are
// compared to the second, the precision stores keep.
func RunKeyStore(t *testing.T, newStore func(t *testing.T) tollgate.KeyStore) {
	ctx := context.Background()
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	key := func(id string, activates time.Time) *tollgate.SigningKey {
		return &tollgate.SigningKey{ID: id, Algorithm: "ES256", PrivateKey: []byte("sealed-" + id), Encrypted: true,
			PublicKey: []byte("pub-" + id), CreatedAt: base, ActivatesAt: activates}
	}

	t.Run("KeysRoundTripOldestActivationFirst", func(t *testing.T) {
		s := newStore(t)
		for _, k := range []*tollgate.SigningKey{key("b", base.Add(time.Hour)), key("a", base), key("c", base.Add(2*time.Hour))} {
			if err := s.CreateSigningKey(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		verifyOnly := &tollgate.SigningKey{ID: "v", Algorithm: "RS256", PublicKey: []byte("pub"), CreatedAt: base, ActivatesAt: base.Add(3 * time.Hour)}
		if err := s.CreateSigningKey(ctx, verifyOnly); err != nil {
			t.Fatal(err)
		}
		got, err := s.SigningKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 4 || got[0].ID != "a" || got[1].ID != "b" || got[2].ID != "c" || got[3].ID != "v" {
			t.Fatalf("keys %v, want a b c v", ids(got))
		}
		a := got[0]
		if a.Algorithm != "ES256" || string(a.PrivateKey) != "sealed-a" || !a.Encrypted || string(a.PublicKey) != "pub-a" ||
			!a.RetiresAt.IsZero() || !a.RevokedAt.IsZero() {
			t.Fatalf("key a came back as %+v", a)
		}
		sameTime(t, "CreatedAt", a.CreatedAt, base)
		sameTime(t, "ActivatesAt", a.ActivatesAt, base)
		if len(got[3].PrivateKey) != 0 || got[3].Encrypted {
			t.Fatalf("verify-only key came back with a private key: %+v", got[3])
		}
	})

	t.Run("DuplicateIDIsErrKeyExists", func(t *testing.T) {
		s := newStore(t)
		if err := s.CreateSigningKey(ctx, key("a", base)); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateSigningKey(ctx, key("a", base.Add(time.Hour))); !errors.Is(err, tollgate.ErrKeyExists) {
			t.Fatalf("err = %v, want ErrKeyExists", err)
		}
	})

	t.Run("UpdateSetsDatesOnly", func(t *testing.T) {
		s := newStore(t)
		s.CreateSigningKey(ctx, key("a", base.Add(time.Hour)))
		upd := &tollgate.SigningKey{ID: "a", Algorithm: "HS256", PrivateKey: []byte("other"),
			ActivatesAt: base, RetiresAt: base.Add(48 * time.Hour), RevokedAt: base.Add(24 * time.Hour)}
		if err := s.UpdateSigningKeyDates(ctx, upd); err != nil {
			t.Fatal(err)
		}
		got, _ := s.SigningKeys(ctx)
		if len(got) != 1 || got[0].Algorithm != "ES256" || string(got[0].PrivateKey) != "sealed-a" {
			t.Fatalf("update changed key material: %+v", got)
		}
		sameTime(t, "ActivatesAt", got[0].ActivatesAt, base)
		sameTime(t, "RetiresAt", got[0].RetiresAt, base.Add(48*time.Hour))
		sameTime(t, "RevokedAt", got[0].RevokedAt, base.Add(24*time.Hour))
		if err := s.UpdateSigningKeyDates(ctx, &tollgate.SigningKey{ID: "nope"}); !errors.Is(err, tollgate.ErrKeyNotFound) {
			t.Fatalf("unknown id: err = %v, want ErrKeyNotFound", err)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		s := newStore(t)
		s.CreateSigningKey(ctx, key("a", base))
		if err := s.DeleteSigningKey(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.SigningKeys(ctx); len(got) != 0 {
			t.Fatalf("%d keys after delete", len(got))
		}
		if err := s.DeleteSigningKey(ctx, "a"); !errors.Is(err, tollgate.ErrKeyNotFound) {
			t.Fatalf("second delete: err = %v, want ErrKeyNotFound", err)
		}
	})
}

func ids(ks []*tollgate.SigningKey) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.ID
	}
	return out
}
