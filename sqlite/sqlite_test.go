package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/sqlite"
	"github.com/tollgate/tollgate/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) tollgate.Store {
		return openTemp(t)
	})
}

func TestStoreInMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) tollgate.Store {
		db, err := sqlite.Open(t.Context(), ":memory:")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

// openTemp opens a fresh database file under t.TempDir, closed when t ends.
func openTemp(t testing.TB) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "tollgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestService runs the core's rules (storetest.RunService) over SQLite.
func TestService(t *testing.T) {
	storetest.RunService(t, func(t *testing.T) tollgate.Store { return openTemp(t) })
}
