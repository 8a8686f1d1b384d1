package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tollgate/tollgate"
)

const sessionColumns = `id, user_id, created_at, last_used_at, expires_at, absolute_expires_at,
	current_jti, current_issued_at, previous_jti, rotated_at, revoked_at, revoke_reason, user_agent, ip`

// CreateSession inserts a new session (a login). The login's records (last
// login, the failure counter cleared) are made by the same statement
// (data-modifying CTEs): one round trip and one commit per login, and no
// change without the others.
func (db *DB) CreateSession(ctx context.Context, s *tollgate.Session, login tollgate.LoginRecord) error {
	_, err := db.pool.Exec(ctx, `
		WITH login AS (
			UPDATE users SET last_login = $15 WHERE id = $2 AND $15::timestamptz IS NOT NULL
		), cleared AS (
			DELETE FROM login_failures WHERE key = $16 AND $16 <> ''
		)
		INSERT INTO sessions (`+sessionColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		s.ID, s.UserID, ts(s.CreatedAt), ts(s.LastUsedAt), ts(s.ExpiresAt), ts(s.AbsoluteExpiresAt),
		s.CurrentJTI, ts(s.CurrentIssuedAt), s.PreviousJTI, ts(s.RotatedAt), ts(s.RevokedAt), s.RevokeReason, s.UserAgent, s.IP,
		ts(login.At), login.ClearFailures)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" { // foreign key: no such user
		return tollgate.ErrUserNotFound
	}
	if err != nil {
		return fmt.Errorf("postgres: creating session: %w", mapErr(err))
	}
	return nil
}

// Session returns the session or ErrSessionNotFound: one primary-key lookup.
func (db *DB) Session(ctx context.Context, id string) (*tollgate.Session, error) {
	s, err := scanSession(db.pool.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = $1`, id))
	if noRows(err) {
		return nil, tollgate.ErrSessionNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: loading session: %w", mapErr(err))
	}
	return s, nil
}

// RotateSession is the refresh hot path, and the whole of a good refresh's
// work in the database: one UPDATE by primary key whose WHERE clause is the
// single-use check, joined to the user to check it is the token's and
// active, returning the new row and the user. PostgreSQL re-evaluates the
// WHERE on the latest row version when a concurrent rotation holds the row
// lock, so of any number of concurrent calls presenting the same jti exactly
// one matches; the others affect no row and get ErrRotationConflict. No read
// precedes the write, so there is no read-then-write race to lose.
//
// In SET, s.current_jti is the old value (the row before the update); the
// new expiry is capped at absolute_expires_at (LEAST ignores a NULL cap).
func (db *DB) RotateSession(ctx context.Context, r tollgate.Rotation) (*tollgate.Session, *tollgate.User, error) {
	var ss sessionScan
	var us userScan
	err := db.pool.QueryRow(ctx, `
		UPDATE sessions s SET
			previous_jti = s.current_jti, rotated_at = $4,
			current_jti = $3, current_issued_at = $5,
			expires_at = LEAST($6::timestamptz, s.absolute_expires_at),
			last_used_at = $4, user_agent = $7, ip = $8
		FROM users u
		WHERE s.id = $1 AND s.current_jti = $2 AND s.revoked_at IS NULL AND s.user_id = $9
			AND u.id = s.user_id AND u.is_active
		RETURNING `+sessionColumnsOf("s")+`, `+userColumnsOf("u"),
		r.SessionID, r.PresentedJTI, r.NewJTI, ts(r.Now), ts(r.NewIssuedAt), ts(r.NewExpiresAt), r.UserAgent, r.IP, r.UserID,
	).Scan(append(ss.dest(), us.dest()...)...)
	if noRows(err) {
		return nil, nil, tollgate.ErrRotationConflict
	}
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: rotating session: %w", mapErr(err))
	}
	return ss.session(), us.user(), nil
}

// TouchSession records a use without rotation.
func (db *DB) TouchSession(ctx context.Context, id string, at time.Time) error {
	tag, err := db.pool.Exec(ctx, `UPDATE sessions SET last_used_at = $2 WHERE id = $1`, id, ts(at))
	if err != nil {
		return fmt.Errorf("postgres: touching session: %w", mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return tollgate.ErrSessionNotFound
	}
	return nil
}

// RevokeSession marks the session revoked unless it already was, and
// reports whether this call revoked it. A missing session is
// ErrSessionNotFound.
func (db *DB) RevokeSession(ctx context.Context, id string, at time.Time, reason string) (bool, error) {
	var revoked bool
	// One statement: the CTE revokes a live row; the outer query tells a
	// missing session (no row) from an already revoked one (false).
	err := db.pool.QueryRow(ctx, `
		WITH r AS (
			UPDATE sessions SET revoked_at = $2, revoke_reason = $3
			WHERE id = $1 AND revoked_at IS NULL
			RETURNING id
		)
		SELECT EXISTS (SELECT 1 FROM r) FROM sessions WHERE id = $1`,
		id, ts(at), reason).Scan(&revoked)
	if noRows(err) {
		return false, tollgate.ErrSessionNotFound
	}
	if err != nil {
		return false, fmt.Errorf("postgres: revoking session: %w", mapErr(err))
	}
	return revoked, nil
}

// RevokeUserSessions revokes every live session of the user but exceptID;
// expired sessions are left for the flush.
func (db *DB) RevokeUserSessions(ctx context.Context, userID int64, exceptID string, at time.Time, reason string) ([]string, error) {
	rows, err := db.pool.Query(ctx, `
		UPDATE sessions SET revoked_at = $3, revoke_reason = $4
		WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL AND expires_at > $3
		RETURNING id`, userID, exceptID, ts(at), reason)
	if err != nil {
		return nil, fmt.Errorf("postgres: revoking sessions: %w", mapErr(err))
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: revoking sessions: %w", mapErr(err))
	}
	return ids, nil
}

// ListSessions returns the user's live sessions, newest first.
func (db *DB) ListSessions(ctx context.Context, userID int64, now time.Time) ([]*tollgate.Session, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT `+sessionColumns+` FROM sessions
		WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2
		ORDER BY created_at DESC, id`, userID, ts(now))
	if err != nil {
		return nil, fmt.Errorf("postgres: listing sessions: %w", mapErr(err))
	}
	defer rows.Close()
	var list []*tollgate.Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: listing sessions: %w", mapErr(err))
		}
		list = append(list, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: listing sessions: %w", mapErr(err))
	}
	return list, nil
}

// DeleteExpiredSessions deletes at most limit sessions that expired at or
// before the given time. The subquery walks the expires_at index and stops
// after limit rows, so each batch is one short statement holding few row
// locks; SKIP LOCKED lets two flushes run at once without waiting on each
// other (or on a refresh touching an expired row).
func (db *DB) DeleteExpiredSessions(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	tag, err := db.pool.Exec(ctx, `
		DELETE FROM sessions WHERE id IN (
			SELECT id FROM sessions WHERE expires_at <= $1
			ORDER BY expires_at LIMIT $2
			FOR UPDATE SKIP LOCKED
		)`, ts(before), limit)
	if err != nil {
		return 0, fmt.Errorf("postgres: flushing sessions: %w", mapErr(err))
	}
	return int(tag.RowsAffected()), nil
}

// sessionScan holds one session row while it is scanned: its nullable
// times need pgtype holders before they become time.Time.
type sessionScan struct {
	s                                                          tollgate.Session
	created, lastUsed, expires, absExpires, issued, rot, revok pgtype.Timestamptz
}

// dest is the scan destinations, in sessionColumns' order.
func (x *sessionScan) dest() []any {
	return []any{&x.s.ID, &x.s.UserID, &x.created, &x.lastUsed, &x.expires, &x.absExpires,
		&x.s.CurrentJTI, &x.issued, &x.s.PreviousJTI, &x.rot, &x.revok, &x.s.RevokeReason, &x.s.UserAgent, &x.s.IP}
}

func (x *sessionScan) session() *tollgate.Session {
	s := x.s
	s.CreatedAt, s.LastUsedAt, s.ExpiresAt, s.AbsoluteExpiresAt = tm(x.created), tm(x.lastUsed), tm(x.expires), tm(x.absExpires)
	s.CurrentIssuedAt, s.RotatedAt, s.RevokedAt = tm(x.issued), tm(x.rot), tm(x.revok)
	return &s
}

func scanSession(row pgx.Row) (*tollgate.Session, error) {
	var x sessionScan
	if err := row.Scan(x.dest()...); err != nil {
		return nil, err
	}
	return x.session(), nil
}

// sessionColumnsOf is sessionColumns qualified by a table alias, for
// statements that join another table with like-named columns.
func sessionColumnsOf(alias string) string { return qualify(alias, sessionColumns) }

// qualify prefixes each of a comma-separated list of columns with alias.
func qualify(alias, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}
