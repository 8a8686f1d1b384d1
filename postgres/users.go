package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tollgate/tollgate"
)

const userColumns = `id, username, email, password_hash, is_active, is_staff, created_at, last_login, password_changed_at`

// CreateUser inserts u and sets u.ID. A non-zero u.ID is kept (an import
// of Django users), and the identity sequence is moved past it so later
// generated ids do not collide.
func (db *DB) CreateUser(ctx context.Context, u *tollgate.User) error {
	created := u.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	args := []any{u.Username, u.Email, u.PasswordHash, u.IsActive, u.IsStaff, ts(created), ts(u.LastLogin), ts(u.PasswordChangedAt)}
	if u.ID == 0 {
		err := db.pool.QueryRow(ctx, `
			INSERT INTO users (username, email, password_hash, is_active, is_staff, created_at, last_login, password_changed_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`, args...).Scan(&u.ID)
		if err != nil {
			return userWriteErr("creating user", err)
		}
		u.CreatedAt = created.Truncate(time.Second)
		return nil
	}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			INSERT INTO users (id, username, email, password_hash, is_active, is_staff, created_at, last_login, password_changed_at)
			VALUES ($9, $1, $2, $3, $4, $5, $6, $7, $8)`, append(args, u.ID)...); err != nil {
			return err
		}
		// nextval rather than max(id): the sequence never moves backwards,
		// so an id handed to a concurrent insert is never handed out again.
		_, err := tx.Exec(ctx, `SELECT setval(s, GREATEST($1, nextval(s))) FROM pg_get_serial_sequence('users', 'id') AS s`, u.ID)
		return err
	})
	if err != nil {
		return userWriteErr("creating user", err)
	}
	u.CreatedAt = created.Truncate(time.Second)
	return nil
}

// userWriteErr maps a failed write to users: a unique violation is
// ErrUsernameTaken.
func userWriteErr(what string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return tollgate.ErrUsernameTaken
	}
	return fmt.Errorf("postgres: %s: %w", what, mapErr(err))
}

// UserByID returns the user or ErrUserNotFound.
func (db *DB) UserByID(ctx context.Context, id int64) (*tollgate.User, error) {
	return db.oneUser(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id)
}

// UserByLogin finds a user by exact username, or by email ignoring case.
func (db *DB) UserByLogin(ctx context.Context, field tollgate.LoginField, login string) (*tollgate.User, error) {
	switch field {
	case tollgate.LoginByUsername:
		return db.oneUser(ctx, `SELECT `+userColumns+` FROM users WHERE username = $1`, login)
	case tollgate.LoginByEmail:
		if login == "" {
			return nil, tollgate.ErrUserNotFound
		}
		// LIMIT 2: an email two users share is ambiguous and finds no one.
		rows, err := db.pool.Query(ctx, `SELECT `+userColumns+` FROM users WHERE lower(email) = lower($1) AND email <> '' LIMIT 2`, login)
		if err != nil {
			return nil, fmt.Errorf("postgres: loading user: %w", mapErr(err))
		}
		users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*tollgate.User, error) { return scanUser(r) })
		if err != nil {
			return nil, fmt.Errorf("postgres: loading user: %w", mapErr(err))
		}
		if len(users) != 1 {
			return nil, tollgate.ErrUserNotFound
		}
		return users[0], nil
	}
	return nil, fmt.Errorf("postgres: unknown login field %q", field)
}

func (db *DB) oneUser(ctx context.Context, query string, args ...any) (*tollgate.User, error) {
	u, err := scanUser(db.pool.QueryRow(ctx, query, args...))
	if noRows(err) {
		return nil, tollgate.ErrUserNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: loading user: %w", mapErr(err))
	}
	return u, nil
}

// ListUsers returns every user, by id.
func (db *DB) ListUsers(ctx context.Context) ([]*tollgate.User, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+userColumns+` FROM users ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: listing users: %w", mapErr(err))
	}
	defer rows.Close()
	var users []*tollgate.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: listing users: %w", mapErr(err))
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: listing users: %w", mapErr(err))
	}
	return users, nil
}

// SetUserActive activates or deactivates a user.
func (db *DB) SetUserActive(ctx context.Context, id int64, active bool) error {
	return db.updateUser(ctx, "setting user active", `UPDATE users SET is_active = $2 WHERE id = $1`, id, active)
}

// SetPasswordHash stores a new hash; a zero changedAt (a transparent
// re-hash) leaves password_changed_at alone.
func (db *DB) SetPasswordHash(ctx context.Context, id int64, hash string, changedAt time.Time) error {
	return db.updateUser(ctx, "setting password",
		`UPDATE users SET password_hash = $2, password_changed_at = COALESCE($3, password_changed_at) WHERE id = $1`,
		id, hash, ts(changedAt))
}

// RecordLogin sets last_login.
func (db *DB) RecordLogin(ctx context.Context, id int64, at time.Time) error {
	return db.updateUser(ctx, "recording login", `UPDATE users SET last_login = $2 WHERE id = $1`, id, ts(at))
}

// DeleteUser deletes the user and, by cascade, their sessions.
func (db *DB) DeleteUser(ctx context.Context, id int64) error {
	return db.updateUser(ctx, "deleting user", `DELETE FROM users WHERE id = $1`, id)
}

// updateUser runs a statement on one user row; no row is ErrUserNotFound.
func (db *DB) updateUser(ctx context.Context, what, query string, args ...any) error {
	tag, err := db.pool.Exec(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("postgres: %s: %w", what, mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return tollgate.ErrUserNotFound
	}
	return nil
}

// userScan holds one user row while it is scanned.
type userScan struct {
	u                         tollgate.User
	created, lastLogin, chgAt pgtype.Timestamptz
}

// dest is the scan destinations, in userColumns' order.
func (x *userScan) dest() []any {
	return []any{&x.u.ID, &x.u.Username, &x.u.Email, &x.u.PasswordHash, &x.u.IsActive, &x.u.IsStaff, &x.created, &x.lastLogin, &x.chgAt}
}

func (x *userScan) user() *tollgate.User {
	u := x.u
	u.CreatedAt, u.LastLogin, u.PasswordChangedAt = tm(x.created), tm(x.lastLogin), tm(x.chgAt)
	return &u
}

func scanUser(row pgx.Row) (*tollgate.User, error) {
	var x userScan
	if err := row.Scan(x.dest()...); err != nil {
		return nil, err
	}
	return x.user(), nil
}

// userColumnsOf is userColumns qualified by a table alias.
func userColumnsOf(alias string) string { return qualify(alias, userColumns) }

// ts is the column value of t: NULL for the zero time ("never"), else t at
// second precision, the precision every store keeps.
func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Truncate(time.Second).UTC()
}

// tm is the time of a column: the zero time for NULL.
func tm(v pgtype.Timestamptz) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return v.Time.UTC()
}
