package sqlite_test

import (
	"context"
	"testing"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/sqlite"
	"github.com/tollgate/tollgate/storetest"
)

func TestKeyStore(t *testing.T) {
	storetest.RunKeyStore(t, func(t *testing.T) tollgate.KeyStore {
		db, err := sqlite.Open(context.Background(), ":memory:")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}
