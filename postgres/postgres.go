// Package postgres is Tollgate's scale-out store: tollgate.Store over
// PostgreSQL through pgx v5 (pgxpool), with goose migrations embedded in the
// binary. Any number of stateless Tollgate instances can share one database.
//
// The SQL is written by hand rather than generated with sqlc: the store is a
// dozen short statements, the one on the hot path (refresh rotation) must be
// exactly one conditional UPDATE whose affected-row count is the answer, and
// there is nothing a generator would save us from writing. Reading the SQL
// next to the Go that uses it is the point.
//
// Errors: a missing row is a tollgate sentinel (ErrUserNotFound,
// ErrSessionNotFound), a unique violation on users is ErrUsernameTaken, and
// any connection-level failure (refused dial, reset, closed pool, timeout,
// server shutting down) wraps tollgate.ErrUnavailable, so the API answers
// 503 service_unavailable and the client retries.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"net"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jackc/puddle/v2"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/tollgate/tollgate"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DefaultConnectTimeout bounds a dial when the URL sets no connect_timeout:
// while the database is unreachable requests must fail fast with 503, not
// hang for the kernel's TCP timeout.
const DefaultConnectTimeout = 3 * time.Second

// DB is a tollgate.Store over a PostgreSQL connection pool. It is safe for
// concurrent use.
type DB struct {
	pool *pgxpool.Pool
}

var _ tollgate.Store = (*DB)(nil)

// defaultMaxConns sizes the pool when the URL does not: pgxpool's own
// default (one connection per CPU, at least 4) leaves a refresh, which is
// one short write waiting mostly on its commit, queueing for a connection;
// on 2 cores, 16 connections gave a third more refreshes per second than 4
// (bench/compare.sh). Set pool_max_conns in the URL to choose.
func defaultMaxConns() int32 { return int32(max(16, 4*runtime.NumCPU())) }

// Open connects to the database at url (postgres://user@host:port/db?...;
// every libpq parameter pgx understands, plus pool_max_conns and friends,
// and any run-time parameter such as search_path). It checks the database
// answers but does not migrate: call Migrate.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may quote the URL, password included.
		return nil, errors.New("postgres: invalid database URL")
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = defaultMaxConns()
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: opening pool: %w", mapErr(err))
	}
	db := &DB{pool: pool}
	if err := db.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// Pool returns the underlying pool, for tools (benchmark seeding) that need
// raw SQL.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Ping reports whether the database answers (readiness).
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", mapErr(err))
	}
	return nil
}

// Close closes every connection of the pool; later calls fail with
// ErrUnavailable.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Migrate applies every embedded migration not yet applied, under a
// PostgreSQL session-level advisory lock (goose's session locker), so that
// several instances starting at once apply each migration exactly once and
// the others wait for it. The lock id is derived from the schema, so
// deployments in different schemas of one database do not wait for each
// other.
func (db *DB) Migrate(ctx context.Context) error {
	var schema string
	if err := db.pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return fmt.Errorf("postgres: migrate: %w", mapErr(err))
	}
	h := fnv.New64a()
	io.WriteString(h, "tollgate-migrate:"+schema)
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(int64(h.Sum64()>>1)),
		lock.WithLockTimeout(1, 300), // poll each second for up to 5 minutes
	)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	sqldb := stdlib.OpenDBFromPool(db.pool)
	defer sqldb.Close()
	fsys, err := subFS()
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, sqldb, fsys, goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", mapErr(err))
	}
	return nil
}

// Version returns the schema version applied (0 on an empty database).
func (db *DB) Version(ctx context.Context) (int64, error) {
	sqldb := stdlib.OpenDBFromPool(db.pool)
	defer sqldb.Close()
	fsys, err := subFS()
	if err != nil {
		return 0, err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, sqldb, fsys)
	if err != nil {
		return 0, fmt.Errorf("postgres: version: %w", err)
	}
	v, err := p.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("postgres: version: %w", mapErr(err))
	}
	return v, nil
}

// subFS is the embedded migrations directory, as goose wants it (files at
// the root).
func subFS() (fs.FS, error) {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("postgres: embedded migrations: %w", err)
	}
	return fsys, nil
}

// mapErr turns connection-level failures into tollgate.ErrUnavailable,
// keeping the cause in the chain for logs. Other errors pass unchanged.
func mapErr(err error) error {
	if err == nil || !unavailable(err) {
		return err
	}
	return fmt.Errorf("%w: %w", tollgate.ErrUnavailable, err)
}

// unavailable reports whether err says the database cannot be reached, as
// opposed to a query it refused.
func unavailable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case len(pgErr.Code) == 5 && pgErr.Code[:2] == "08": // connection exception
			return true
		case pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03": // shutdown, crash, cannot connect now
			return true
		case pgErr.Code == "53300": // too many connections
			return true
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr), errors.As(err, &netErr):
		return true
	case errors.Is(err, puddle.ErrClosedPool), errors.Is(err, sql.ErrConnDone):
		return true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	case errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err):
		return true
	}
	return false
}

// noRows reports whether err is pgx's "no rows in result set".
func noRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// Migrations returns the embedded migration files (for tests and the
// `tollgate migrate` status output).
func Migrations() fs.FS {
	fsys, _ := subFS()
	return fsys
}
