package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tollgate/tollgate"
)

const sessionColumns = `id, user_id, created_at, last_used_at, expires_at, absolute_expires_at,
	current_jti, current_issued_at, previous_jti, rotated_at, revoked_at, revoke_reason, user_agent, ip`

func scanSession(row interface{ Scan(...any) error }) (*tollgate.Session, error) {
	var (
		s                                  tollgate.Session
		created, lastUsed, expires, issued int64
		absoluteExpires, rotated, revoked  sql.NullInt64
	)
	err := row.Scan(&s.ID, &s.UserID, &created, &lastUsed, &expires, &absoluteExpires,
		&s.CurrentJTI, &issued, &s.PreviousJTI, &rotated, &revoked, &s.RevokeReason, &s.UserAgent, &s.IP)
	if err != nil {
		return nil, err
	}
	s.CreatedAt, s.LastUsedAt, s.ExpiresAt = fromUnix(created), fromUnix(lastUsed), fromUnix(expires)
	s.AbsoluteExpiresAt, s.CurrentIssuedAt = fromNullUnix(absoluteExpires), fromUnix(issued)
	s.RotatedAt, s.RevokedAt = fromNullUnix(rotated), fromNullUnix(revoked)
	return &s, nil
}

const createSessionQuery = `INSERT INTO sessions (` + sessionColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// recordLoginQuery is RecordLogin's statement, which CreateSession runs too.
const recordLoginQuery = `UPDATE users SET last_login = ? WHERE id = ?`

// CreateSession inserts a session; it fails with ErrUserNotFound when the
// user does not exist. The login's records (last login, the failure counter
// cleared) go in the same transaction: one commit, so one fsync, per login.
func (d *DB) CreateSession(ctx context.Context, s *tollgate.Session, login tollgate.LoginRecord) error {
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		return storeError("creating session", err)
	}
	defer tx.Rollback()
	_, err = tx.StmtContext(ctx, d.hot.createSession).ExecContext(ctx,
		s.ID, s.UserID, unix(s.CreatedAt), unix(s.LastUsedAt), unix(s.ExpiresAt), nullUnix(s.AbsoluteExpiresAt),
		s.CurrentJTI, unix(s.CurrentIssuedAt), s.PreviousJTI, nullUnix(s.RotatedAt), nullUnix(s.RevokedAt),
		s.RevokeReason, s.UserAgent, s.IP)
	if constraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) {
		return tollgate.ErrUserNotFound
	}
	if err != nil {
		return storeError("creating session", err)
	}
	if !login.At.IsZero() {
		// The insert's foreign key has just proved the user exists.
		if _, err := tx.StmtContext(ctx, d.hot.recordLogin).ExecContext(ctx, unix(login.At), s.UserID); err != nil {
			return storeError("recording login", err)
		}
	}
	if login.ClearFailures != "" {
		if _, err := tx.ExecContext(ctx, `DELETE FROM login_failures WHERE key = ?`, login.ClearFailures); err != nil {
			return storeError("clearing login failures", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return storeError("creating session", err)
	}
	return nil
}

// Session returns the session or ErrSessionNotFound.
func (d *DB) Session(ctx context.Context, id string) (*tollgate.Session, error) {
	s, err := scanSession(d.read.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, tollgate.ErrSessionNotFound
	}
	if err != nil {
		return nil, storeError("loading session", err)
	}
	return s, nil
}

// rotateQuery is the conditional rotation: ?9 is the user id the token
// names, and a NULL absolute_expires_at leaves the new expiry uncapped.
const rotateQuery = `
	UPDATE sessions SET
		previous_jti = current_jti, rotated_at = ?1, last_used_at = ?1,
		current_jti = ?2, current_issued_at = ?3,
		expires_at = min(?4, coalesce(absolute_expires_at, ?4)),
		user_agent = ?5, ip = ?6
	WHERE id = ?7 AND current_jti = ?8 AND revoked_at IS NULL AND user_id = ?9
		AND EXISTS (SELECT 1 FROM users WHERE id = ?9 AND is_active)
	RETURNING ` + sessionColumns

// RotateSession replaces the session's current refresh token in one
// conditional UPDATE: of concurrent calls presenting the same jti, the first
// changes the row and the rest find the jti no longer current. The same
// statement checks the session is the token's user's and that user is
// active, and caps the new expiry at the session's absolute one.
//
// SQLite's RETURNING cannot name another table's columns, so the user is
// read by a second statement in the same write transaction: it is the row
// the UPDATE's EXISTS saw, and the commit is still the only fsync.
func (d *DB) RotateSession(ctx context.Context, r tollgate.Rotation) (*tollgate.Session, *tollgate.User, error) {
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, storeError("rotating session", err)
	}
	defer tx.Rollback()
	s, err := scanSession(tx.StmtContext(ctx, d.hot.rotate).QueryRowContext(ctx,
		unix(r.Now), r.NewJTI, unix(r.NewIssuedAt), unix(r.NewExpiresAt), r.UserAgent, r.IP,
		r.SessionID, r.PresentedJTI, r.UserID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, tollgate.ErrRotationConflict
	}
	if err != nil {
		return nil, nil, storeError("rotating session", err)
	}
	u, err := scanUser(tx.StmtContext(ctx, d.hot.rotatedUser).QueryRowContext(ctx, r.UserID))
	if err != nil {
		// The UPDATE has just seen this row in this transaction.
		return nil, nil, storeError("loading user", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, storeError("rotating session", err)
	}
	return s, u, nil
}

// TouchSession records a use of the session.
func (d *DB) TouchSession(ctx context.Context, id string, at time.Time) error {
	res, err := d.write.ExecContext(ctx, `UPDATE sessions SET last_used_at = ? WHERE id = ?`, unix(at), id)
	if err != nil {
		return storeError("touching session", err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return err
	}
	if n == 0 {
		return tollgate.ErrSessionNotFound
	}
	return nil
}

// RevokeSession revokes the session unless it already was, and reports
// whether it did; an earlier revocation keeps its time and reason.
func (d *DB) RevokeSession(ctx context.Context, id string, at time.Time, reason string) (bool, error) {
	res, err := d.write.ExecContext(ctx,
		`UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE id = ? AND revoked_at IS NULL`,
		unix(at), reason, id)
	if err != nil {
		return false, storeError("revoking session", err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return false, err
	}
	if n == 1 {
		return true, nil
	}
	var exists bool
	if err := d.write.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM sessions WHERE id = ?)`, id).Scan(&exists); err != nil {
		return false, storeError("revoking session", err)
	}
	if !exists {
		return false, tollgate.ErrSessionNotFound
	}
	return false, nil
}

// RevokeUserSessions revokes the user's live sessions but exceptID and
// returns the ids it revoked.
func (d *DB) RevokeUserSessions(ctx context.Context, userID int64, exceptID string, at time.Time, reason string) ([]string, error) {
	rows, err := d.write.QueryContext(ctx, `
		UPDATE sessions SET revoked_at = ?1, revoke_reason = ?2
		WHERE user_id = ?3 AND id <> ?4 AND revoked_at IS NULL AND expires_at > ?1
		RETURNING id`,
		unix(at), reason, userID, exceptID)
	if err != nil {
		return nil, storeError("revoking user sessions", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, storeError("revoking user sessions", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, storeError("revoking user sessions", err)
	}
	return ids, nil
}

// ListSessions returns the user's sessions live at now, newest first.
func (d *DB) ListSessions(ctx context.Context, userID int64, now time.Time) ([]*tollgate.Session, error) {
	rows, err := d.read.QueryContext(ctx, `
		SELECT `+sessionColumns+` FROM sessions
		WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?
		ORDER BY created_at DESC, id DESC`,
		userID, unix(now))
	if err != nil {
		return nil, storeError("listing sessions", err)
	}
	defer rows.Close()
	var sessions []*tollgate.Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, storeError("listing sessions", err)
		}
		sessions = append(sessions, s)
	}
	if err := rows.Err(); err != nil {
		return nil, storeError("listing sessions", err)
	}
	return sessions, nil
}

// DeleteExpiredSessions deletes at most limit sessions whose ExpiresAt is at
// or before the given time, and reports how many it deleted.
func (d *DB) DeleteExpiredSessions(ctx context.Context, before time.Time, limit int) (int, error) {
	res, err := d.write.ExecContext(ctx, `
		DELETE FROM sessions WHERE id IN (
			SELECT id FROM sessions WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`,
		unix(before), limit)
	if err != nil {
		return 0, storeError("deleting expired sessions", err)
	}
	n, err := rowsAffected(res)
	return int(n), err
}
