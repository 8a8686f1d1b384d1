// Package pgtest gives tests a PostgreSQL database of their own: a fresh
// schema in the shared test database, selected through search_path in the
// connection URL and dropped when the test ends. Tests of any package that
// need PostgreSQL (the store, fault tests, multi-instance tests) use it.
//
// The server is TOLLGATE_TEST_POSTGRES_URL (default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable). When it cannot
// be reached the test fails: CI runs PostgreSQL and a silent skip would hide
// a broken setup. Only TOLLGATE_TEST_POSTGRES=skip, set explicitly on a
// laptop, turns the tests into skips.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tollgate/tollgate/postgres"
)

// DefaultURL is the test server when TOLLGATE_TEST_POSTGRES_URL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// BaseURL returns the test server's URL, skipping the test only when
// TOLLGATE_TEST_POSTGRES=skip.
func BaseURL(t testing.TB) string {
	t.Helper()
	if os.Getenv("TOLLGATE_TEST_POSTGRES") == "skip" {
		t.Skip("TOLLGATE_TEST_POSTGRES=skip")
	}
	if u := os.Getenv("TOLLGATE_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// SchemaURL creates a fresh, empty schema and returns a URL whose
// connections use it (search_path), plus the schema name. The schema is
// dropped, with everything in it, when the test ends.
func SchemaURL(t testing.TB) (string, string) {
	t.Helper()
	base := BaseURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: PostgreSQL at %s is not reachable (set TOLLGATE_TEST_POSTGRES=skip to skip on a laptop): %v", redact(base), err)
	}
	defer admin.Close(context.Background())
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema := "tollgate_test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("pgtest: creating schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("pgtest: dropping schema %s: %v", schema, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("pgtest: dropping schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("pgtest: parsing %s: %v", redact(base), err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), schema
}

// Open returns a migrated store over a fresh schema, closed when the test
// ends.
func Open(t testing.TB) *postgres.DB {
	t.Helper()
	u, _ := SchemaURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatalf("pgtest: opening store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("pgtest: migrating: %v", err)
	}
	return db
}

// redact hides a password in a URL for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}
