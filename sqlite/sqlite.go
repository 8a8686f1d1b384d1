// Package sqlite is Tollgate's embedded default store: one SQLite file,
// through modernc.org/sqlite (pure Go, no cgo), with its schema migrations
// embedded and applied on Open.
//
// SQLite has one writer at a time. Rather than let concurrent writers collide
// and fail with SQLITE_BUSY, a DB keeps two pools over the same file: a
// single write connection, on which writes queue in Go, and a pool of
// read-only connections, which WAL mode lets read alongside the writer.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tollgate/tollgate"
)

//go:embed migrations/*.sql
var migrations embed.FS

// busyTimeout is how long a connection waits for a lock held by another
// process (a second server on the same file, the sqlite3 shell) before it
// gives up with SQLITE_BUSY. Within one process writers queue for the one
// write connection instead.
const busyTimeout = 10 * time.Second

// DB is a tollgate.Store over one SQLite database. It is safe for concurrent use.
type DB struct {
	write *sql.DB // one connection: every write goes through it, in turn
	read  *sql.DB // read-only connections; the same pool as write for ":memory:"
	// hot holds the statements of a refresh and a login, prepared once on
	// the write connection: modernc.org/sqlite otherwise parses and plans
	// each statement on every call, which measured as a quarter of a
	// rotation's time beside its fsync.
	hot hotStatements
}

// hotStatements are the write-path statements prepared by Open.
type hotStatements struct {
	rotate        *sql.Stmt // the conditional rotation, RETURNING the session
	rotatedUser   *sql.Stmt // the rotated session's user, in the same transaction
	createSession *sql.Stmt
	recordLogin   *sql.Stmt
}

var _ tollgate.Store = (*DB)(nil)

// Open opens (creating it when missing) the SQLite database at path and
// migrates it to the newest schema. The path ":memory:" opens a private
// in-memory database on a single connection, which is gone on Close.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: database path %q must not contain '?' or '#'", path)
	}
	d := &DB{}
	var err error
	if path == ":memory:" {
		if d.write, err = openPool(path, 1, "_pragma=foreign_keys(1)"); err != nil {
			return nil, err
		}
		d.read = d.write
	} else {
		created, err := createPrivate(path)
		if err != nil {
			return nil, err
		}
		if created {
			// The -wal and -shm files appear when the first connection
			// sets WAL mode; SQLite gives them the database file's mode,
			// and we make sure of it once they exist.
			defer privateSiblings(path)
		}
		// synchronous=FULL: a commit (a logout, a revocation) survives a
		// power cut, not only a crash of the process.
		d.write, err = openPool(path, 1,
			"_txlock=immediate",
			"_pragma=journal_mode(WAL)",
			"_pragma=synchronous(FULL)",
			"_pragma=foreign_keys(1)",
			fmt.Sprintf("_pragma=busy_timeout(%d)", busyTimeout.Milliseconds()))
		if err != nil {
			return nil, err
		}
		// The write pool has set WAL mode (a property of the file) by now.
		readers := max(4, runtime.GOMAXPROCS(0))
		d.read, err = openPool(path, readers,
			"_pragma=query_only(1)",
			fmt.Sprintf("_pragma=busy_timeout(%d)", busyTimeout.Milliseconds()))
		if err != nil {
			d.write.Close()
			return nil, err
		}
	}
	if err := d.Migrate(ctx); err != nil {
		d.Close()
		return nil, err
	}
	if err := d.prepareHot(ctx); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// prepareHot prepares the hot statements; the schema must exist.
func (d *DB) prepareHot(ctx context.Context) error {
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&d.hot.rotate, rotateQuery},
		{&d.hot.rotatedUser, `SELECT ` + userColumns + ` FROM users WHERE id = ?`},
		{&d.hot.createSession, createSessionQuery},
		{&d.hot.recordLogin, recordLoginQuery},
	} {
		st, err := d.write.PrepareContext(ctx, p.query)
		if err != nil {
			return storeError("preparing statements", err)
		}
		*p.stmt = st
	}
	return nil
}

// createPrivate creates the database file with mode 0600 when it does not
// exist, before SQLite would create it with 0644: it holds password hashes.
// An existing file keeps the mode its owner gave it. It reports whether it
// created the file. A "file:" URI is left to SQLite.
func createPrivate(path string) (bool, error) {
	if strings.HasPrefix(path, "file:") {
		return false, nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sqlite: creating %s: %w", path, err)
	}
	return true, f.Close()
}

// privateSiblings makes the -wal and -shm files of a database created by
// createPrivate private too, if they exist (best effort: SQLite creates
// them with the database file's mode already).
func privateSiblings(path string) {
	for _, suffix := range []string{"-wal", "-shm"} {
		_ = os.Chmod(path+suffix, 0o600)
	}
}

// openPool opens a pool of at most conns connections to path, each set up
// by the driver parameters given, and checks that one can be made.
func openPool(path string, conns int, params ...string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", path+"?"+strings.Join(params, "&"))
	if err != nil {
		return nil, fmt.Errorf("sqlite: opening %s: %w", path, err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0) // an in-memory database lives as long as its one connection
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: opening %s: %w", path, err)
	}
	return db, nil
}

// Migrate applies every embedded migration the database lacks. Open calls
// it; `tollgate migrate` calls it too.
func (d *DB) Migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, d.write, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("sqlite: loading migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlite: migrating: %w", err)
	}
	return nil
}

// Ping reports whether both pools can reach the database.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.write.PingContext(ctx); err != nil {
		return storeError("ping", err)
	}
	if err := d.read.PingContext(ctx); err != nil {
		return storeError("ping", err)
	}
	return nil
}

// Close closes the database. It may be called more than once.
func (d *DB) Close() error {
	var errs []error
	for _, st := range []*sql.Stmt{d.hot.rotate, d.hot.rotatedUser, d.hot.createSession, d.hot.recordLogin} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	if d.read != d.write {
		errs = append(errs, d.read.Close())
	}
	return errors.Join(append(errs, d.write.Close())...)
}

// storeError wraps a failure of SQLite for the caller. Its text keeps the
// cause for the logs, but it is no *tollgate.Error, so the HTTP layer
// answers a bare 500; a database that is locked, unwritable or out of space
// counts as unavailable (503, retry later).
func storeError(op string, err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR,
			sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_NOMEM:
			return fmt.Errorf("sqlite: %s: %w: %w", op, tollgate.ErrUnavailable, err)
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("sqlite: %s: %w: %w", op, tollgate.ErrUnavailable, err)
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

// constraint reports whether err is a violation of the given extended
// constraint code (sqlite3.SQLITE_CONSTRAINT_UNIQUE, ...).
func constraint(err error, codes ...int) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	for _, c := range codes {
		if se.Code() == c {
			return true
		}
	}
	return false
}

// Times are stored as unix seconds; NULL stands for the zero time.

func unix(t time.Time) int64 { return t.Unix() }

func nullUnix(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.Unix(), Valid: true}
}

func fromUnix(s int64) time.Time { return time.Unix(s, 0).UTC() }

func fromNullUnix(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromUnix(n.Int64)
}

// rowsAffected returns how many rows an Exec changed.
func rowsAffected(res sql.Result) (int64, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: counting changed rows: %w", err)
	}
	return n, nil
}
