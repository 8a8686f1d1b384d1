package keys_test

import (
	"testing"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/keys"
	"github.com/tollgate/tollgate/storetest"
)

func TestMemoryStore_PassesKeyStoreSuite(t *testing.T) {
	storetest.RunKeyStore(t, func(*testing.T) tollgate.KeyStore { return keys.NewMemoryStore() })
}
