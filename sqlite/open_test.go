package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/tollgate/tollgate"
)

func TestOpen_ReopenKeepsDataAndMigrateIsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tollgate.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	u := &tollgate.User{Username: "alice", IsActive: true, CreatedAt: time.Now()}
	if err := db.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(t.Context(), path)
	if err != nil {
		t.Fatalf("reopening: %v", err)
	}
	defer db.Close()
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate of a migrated database: %v", err)
	}
	if got, err := db.UserByID(t.Context(), u.ID); err != nil || got.Username != "alice" {
		t.Fatalf("UserByID after reopening = %v, %v", got, err)
	}
}

func TestOpen_ConnectionSettings(t *testing.T) {
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "tollgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pragma := func(pool *sql.DB, name string) string {
		t.Helper()
		var v string
		if err := pool.QueryRowContext(t.Context(), "PRAGMA "+name).Scan(&v); err != nil {
			t.Fatalf("PRAGMA %s: %v", name, err)
		}
		return v
	}
	for _, c := range []struct {
		pool       *sql.DB
		name, want string
	}{
		{db.write, "journal_mode", "wal"},
		{db.write, "foreign_keys", "1"},
		{db.write, "synchronous", "2"}, // FULL
		{db.write, "busy_timeout", "10000"},
		{db.read, "journal_mode", "wal"},
		{db.read, "query_only", "1"},
		{db.read, "busy_timeout", "10000"},
	} {
		if got := pragma(c.pool, c.name); got != c.want {
			pool := "write"
			if c.pool == db.read {
				pool = "read"
			}
			t.Errorf("%s pool: PRAGMA %s = %s, want %s", pool, c.name, got, c.want)
		}
	}
	if n := db.write.Stats().MaxOpenConnections; n != 1 {
		t.Errorf("write pool allows %d connections, want 1", n)
	}
}

func TestOpen_BadPathFails(t *testing.T) {
	for _, path := range []string{"", filepath.Join(t.TempDir(), "missing", "dir", "tollgate.db"), "tollgate.db?mode=ro"} {
		if db, err := Open(t.Context(), path); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", path)
		}
	}
}

// A lock held by another process (a second server on the file, the sqlite3
// shell) makes writes wait, then fail as unavailable: a 503, not a 500, and
// no SQLite text for the client.
func TestLockedDatabaseIsUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tollgate.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	other, err := openPool(path, 1, "_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.BeginTx(t.Context(), nil) // holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	err = db.RecordLogin(ctx, 1, time.Now())
	if !errors.Is(err, tollgate.ErrUnavailable) {
		t.Fatalf("write to a locked database: err = %v, want ErrUnavailable", err)
	}
	var e *tollgate.Error
	if !errors.As(err, &e) || e != tollgate.ErrUnavailable {
		t.Fatalf("the first *tollgate.Error in %v is %v, want ErrUnavailable itself", err, e)
	}
	// Reads go on meanwhile (WAL).
	if _, err := db.UserByID(t.Context(), 1); !errors.Is(err, tollgate.ErrUserNotFound) {
		t.Fatalf("read while another process writes: err = %v, want ErrUserNotFound", err)
	}
}
