package postgres_test

import (
	"testing"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/postgres/pgtest"
	"github.com/tollgate/tollgate/storetest"
)

// TestStore runs the suite every backend passes against real PostgreSQL,
// each case in a fresh schema.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) tollgate.Store { return pgtest.Open(t) })
}
