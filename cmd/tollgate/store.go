package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/password"
	"github.com/tollgate/tollgate/postgres"
	"github.com/tollgate/tollgate/sqlite"
	"github.com/tollgate/tollgate/token"
)

// openTimeout bounds connecting to the database at start-up, so a wrong
// DATABASE_URL fails in seconds rather than hanging.
const openTimeout = 15 * time.Second

// migrator is a store that applies its embedded schema migrations.
type migrator interface {
	Migrate(ctx context.Context) error
}

// openStore opens the database DATABASE_URL names and brings its schema up
// to date: migrations are embedded, so a new binary upgrades the schema it
// finds.
func openStore(ctx context.Context, cfg *config.Config) (tollgate.Store, config.Database, error) {
	db, err := cfg.Database()
	if err != nil {
		return nil, db, err
	}
	ctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	var store tollgate.Store
	switch db.Driver {
	case "sqlite":
		s, err := sqlite.Open(ctx, db.DSN)
		if err != nil {
			return nil, db, fmt.Errorf("opening SQLite database %s: %w", db.DSN, err)
		}
		store = s
	case "postgres":
		s, err := postgres.Open(ctx, db.DSN)
		if err != nil {
			return nil, db, fmt.Errorf("opening PostgreSQL database %s: %w", db, err)
		}
		store = s
	default:
		return nil, db, fmt.Errorf("unsupported database driver %q", db.Driver)
	}
	if m, ok := store.(migrator); ok {
		if err := m.Migrate(ctx); err != nil {
			store.Close()
			return nil, db, fmt.Errorf("migrating %s: %w", db, err)
		}
	}
	return store, db, nil
}

// newHasher returns the password hasher with the configured argon2id cost.
func newHasher(cfg *config.Config) (*password.Hasher, error) {
	h, err := password.New(cfg.PasswordParams(), nil)
	if err != nil {
		return nil, fmt.Errorf("%sPASSWORD_ARGON2_MEMORY: %w", config.EnvPrefix, err)
	}
	return h, nil
}

// adminService is the core service for commands that manage users and
// sessions but never mint or verify a token: they must run without the
// signing key, so the codec gets a throwaway random one.
func adminService(cfg *config.Config, store tollgate.Store) (*tollgate.Service, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	ks, err := token.NewHMACKeySet("HS256", secret)
	if err != nil {
		return nil, err
	}
	codec, err := token.New(token.Config{Keys: ks})
	if err != nil {
		return nil, err
	}
	hasher, err := newHasher(cfg)
	if err != nil {
		return nil, err
	}
	return tollgate.NewService(store, codec, hasher, cfg.Core())
}

func init() {
	register("migrate", "create or upgrade the database schema (serve does it too)", runMigrate)
}

func runMigrate(ctx context.Context, a *app, args []string) error {
	fs, cfgPath := a.flagSet("migrate", "")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("migrate takes no arguments")
	}
	cfg, err := a.loadConfig(*cfgPath, false)
	if err != nil {
		return err
	}
	store, db, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	fmt.Fprintf(a.stdout, "database %s is up to date\n", db)
	return nil
}
