package postgres_test

import (
	"testing"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/postgres/pgtest"
	"github.com/tollgate/tollgate/storetest"
)

// TestKeyStore runs the signing-key suite against real PostgreSQL.
func TestKeyStore(t *testing.T) {
	storetest.RunKeyStore(t, func(t *testing.T) tollgate.KeyStore { return pgtest.Open(t) })
}
