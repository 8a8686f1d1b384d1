package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/tollgate/tollgate"
)

// LoginFailures returns the failure state of a login name; an unknown name
// has the zero state.
func (d *DB) LoginFailures(ctx context.Context, key string) (tollgate.LoginFailures, error) {
	var (
		f           tollgate.LoginFailures
		windowStart int64
		lockedUntil sql.NullInt64
	)
	err := d.read.QueryRowContext(ctx,
		`SELECT failures, window_start, locked_until FROM login_failures WHERE key = ?`, key,
	).Scan(&f.Count, &windowStart, &lockedUntil)
	if errors.Is(err, sql.ErrNoRows) {
		return tollgate.LoginFailures{}, nil
	}
	if err != nil {
		return f, storeError("loading login failures", err)
	}
	f.WindowStart, f.LockedUntil = fromUnix(windowStart), fromNullUnix(lockedUntil)
	return f, nil
}

// RecordLoginFailure counts one failure in a single upsert, so concurrent
// failures all count. A window older than window (to the second) is
// replaced by one starting now, and so is one whose lock has expired (the
// lockout served, the name gets a fresh allowance); at or past limit
// failures the name is locked until now+lockout; an earlier lock is never
// shortened.
func (d *DB) RecordLoginFailure(ctx context.Context, key string, now time.Time, window time.Duration, limit int, lockout time.Duration) (tollgate.LoginFailures, error) {
	var (
		f           tollgate.LoginFailures
		windowStart int64
		lockedUntil sql.NullInt64
	)
	// ?3 is the oldest window start still current: a start before it is
	// older than window.
	err := d.write.QueryRowContext(ctx, `
		INSERT INTO login_failures (key, failures, window_start, locked_until)
		VALUES (?1, 1, ?2, CASE WHEN 1 >= ?4 THEN ?5 END)
		ON CONFLICT (key) DO UPDATE SET
			failures     = CASE WHEN (window_start < ?3 OR locked_until <= ?2) THEN 1 ELSE failures + 1 END,
			window_start = CASE WHEN (window_start < ?3 OR locked_until <= ?2) THEN ?2 ELSE window_start END,
			locked_until = CASE
				WHEN (CASE WHEN (window_start < ?3 OR locked_until <= ?2) THEN 1 ELSE failures + 1 END) >= ?4 THEN ?5
				WHEN locked_until <= ?2 THEN NULL
				ELSE locked_until END
		RETURNING failures, window_start, locked_until`,
		key, unix(now), unix(now)-int64(window/time.Second), limit, unix(now.Add(lockout)),
	).Scan(&f.Count, &windowStart, &lockedUntil)
	if err != nil {
		return f, storeError("recording login failure", err)
	}
	f.WindowStart, f.LockedUntil = fromUnix(windowStart), fromNullUnix(lockedUntil)
	return f, nil
}

// ResetLoginFailures forgets the failures of a login name.
func (d *DB) ResetLoginFailures(ctx context.Context, key string) error {
	if _, err := d.write.ExecContext(ctx, `DELETE FROM login_failures WHERE key = ?`, key); err != nil {
		return storeError("resetting login failures", err)
	}
	return nil
}
