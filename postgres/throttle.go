package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tollgate/tollgate"
)

// LoginFailures returns the failure state of a login name; an unknown name
// has the zero state.
func (db *DB) LoginFailures(ctx context.Context, key string) (tollgate.LoginFailures, error) {
	var f tollgate.LoginFailures
	var start, locked pgtype.Timestamptz
	err := db.pool.QueryRow(ctx, `SELECT count, window_start, locked_until FROM login_failures WHERE key = $1`, key).
		Scan(&f.Count, &start, &locked)
	if noRows(err) {
		return tollgate.LoginFailures{}, nil
	}
	if err != nil {
		return f, fmt.Errorf("postgres: loading login failures: %w", mapErr(err))
	}
	f.WindowStart, f.LockedUntil = tm(start), tm(locked)
	return f, nil
}

// RecordLoginFailure counts one failure in a single upsert, so concurrent
// failures from several instances are all counted: the row lock taken by
// ON CONFLICT DO UPDATE serialises them. A window older than window starts
// over at this failure, and so does one whose lock has expired (the lockout
// served, the name gets a fresh allowance).
func (db *DB) RecordLoginFailure(ctx context.Context, key string, now time.Time, window time.Duration, limit int, lockout time.Duration) (tollgate.LoginFailures, error) {
	var f tollgate.LoginFailures
	var start, locked pgtype.Timestamptz
	// $2 now, $3 the oldest window start still current, $4 limit, $5 now+lockout.
	err := db.pool.QueryRow(ctx, `
		INSERT INTO login_failures AS f (key, count, window_start, locked_until)
		VALUES ($1, 1, $2, CASE WHEN 1 >= $4::int THEN $5::timestamptz END)
		ON CONFLICT (key) DO UPDATE SET
			count = CASE WHEN (f.window_start < $3 OR f.locked_until <= $2) THEN 1 ELSE f.count + 1 END,
			window_start = CASE WHEN (f.window_start < $3 OR f.locked_until <= $2) THEN $2 ELSE f.window_start END,
			locked_until = CASE
				WHEN (CASE WHEN (f.window_start < $3 OR f.locked_until <= $2) THEN 1 ELSE f.count + 1 END) >= $4::int THEN $5::timestamptz
				WHEN f.locked_until <= $2 THEN NULL
				ELSE f.locked_until END
		RETURNING count, window_start, locked_until`,
		key, ts(now), ts(now.Add(-window)), limit, ts(now.Add(lockout))).Scan(&f.Count, &start, &locked)
	if err != nil {
		return f, fmt.Errorf("postgres: recording login failure: %w", mapErr(err))
	}
	f.WindowStart, f.LockedUntil = tm(start), tm(locked)
	return f, nil
}

// ResetLoginFailures forgets the failures of a login name.
func (db *DB) ResetLoginFailures(ctx context.Context, key string) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM login_failures WHERE key = $1`, key); err != nil {
		return fmt.Errorf("postgres: resetting login failures: %w", mapErr(err))
	}
	return nil
}
