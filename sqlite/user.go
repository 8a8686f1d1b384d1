package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tollgate/tollgate"
)

const userColumns = `id, username, email, password_hash, is_active, is_staff, created_at, last_login, password_changed_at`

func scanUser(row interface{ Scan(...any) error }) (*tollgate.User, error) {
	var (
		u                  tollgate.User
		created            int64
		lastLogin, changed sql.NullInt64
	)
	if err := row.Scan(&u.ID, &u.Username, &u.Email, &u.PasswordHash, &u.IsActive, &u.IsStaff, &created, &lastLogin, &changed); err != nil {
		return nil, err
	}
	u.CreatedAt, u.LastLogin, u.PasswordChangedAt = fromUnix(created), fromNullUnix(lastLogin), fromNullUnix(changed)
	return &u, nil
}

// CreateUser inserts u and sets u.ID; a non-zero u.ID is kept (a Django
// import) and moves the id counter past it.
func (d *DB) CreateUser(ctx context.Context, u *tollgate.User) error {
	err := d.write.QueryRowContext(ctx, `
		INSERT INTO users (`+userColumns+`) VALUES (NULLIF(?, 0), ?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING id`,
		u.ID, u.Username, u.Email, u.PasswordHash, u.IsActive, u.IsStaff,
		unix(u.CreatedAt), nullUnix(u.LastLogin), nullUnix(u.PasswordChangedAt),
	).Scan(&u.ID)
	if constraint(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) {
		return tollgate.ErrUsernameTaken
	}
	if err != nil {
		return storeError("creating user", err)
	}
	return nil
}

// UserByID returns the user or ErrUserNotFound.
func (d *DB) UserByID(ctx context.Context, id int64) (*tollgate.User, error) {
	u, err := scanUser(d.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, tollgate.ErrUserNotFound
	}
	if err != nil {
		return nil, storeError("loading user", err)
	}
	return u, nil
}

// UserByLogin finds the user whose username is login exactly, or whose
// email is login in any case (SQLite's lower() folds ASCII letters only).
// An email that two users share, or an empty one, finds no one: either
// could be the wrong account.
func (d *DB) UserByLogin(ctx context.Context, field tollgate.LoginField, login string) (*tollgate.User, error) {
	var query string
	switch field {
	case tollgate.LoginByUsername:
		query = `SELECT ` + userColumns + ` FROM users WHERE username = ?1`
	case tollgate.LoginByEmail:
		if login == "" {
			return nil, tollgate.ErrUserNotFound
		}
		query = `SELECT ` + userColumns + ` FROM users WHERE lower(email) = lower(?1) LIMIT 2`
	default:
		return nil, fmt.Errorf("sqlite: unknown login field %q", field)
	}
	rows, err := d.read.QueryContext(ctx, query, login)
	if err != nil {
		return nil, storeError("looking up user", err)
	}
	defer rows.Close()
	var found []*tollgate.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, storeError("looking up user", err)
		}
		found = append(found, u)
	}
	if err := rows.Err(); err != nil {
		return nil, storeError("looking up user", err)
	}
	if len(found) != 1 {
		return nil, tollgate.ErrUserNotFound
	}
	return found[0], nil
}

// ListUsers returns every user, by id.
func (d *DB) ListUsers(ctx context.Context) ([]*tollgate.User, error) {
	rows, err := d.read.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY id`)
	if err != nil {
		return nil, storeError("listing users", err)
	}
	defer rows.Close()
	var users []*tollgate.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, storeError("listing users", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, storeError("listing users", err)
	}
	return users, nil
}

// SetUserActive activates or deactivates the user.
func (d *DB) SetUserActive(ctx context.Context, id int64, active bool) error {
	return d.updateUser(ctx, "setting user active", `UPDATE users SET is_active = ? WHERE id = ?`, active, id)
}

// SetPasswordHash stores a new hash; a zero changedAt (a re-hash of the same
// password) leaves PasswordChangedAt as it was.
func (d *DB) SetPasswordHash(ctx context.Context, id int64, hash string, changedAt time.Time) error {
	return d.updateUser(ctx, "setting password hash",
		`UPDATE users SET password_hash = ?, password_changed_at = coalesce(?, password_changed_at) WHERE id = ?`,
		hash, nullUnix(changedAt), id)
}

// RecordLogin sets the user's last login.
func (d *DB) RecordLogin(ctx context.Context, id int64, at time.Time) error {
	return d.updateUser(ctx, "recording login", recordLoginQuery, unix(at), id)
}

// DeleteUser deletes the user and, by the foreign key's cascade, its sessions.
func (d *DB) DeleteUser(ctx context.Context, id int64) error {
	return d.updateUser(ctx, "deleting user", `DELETE FROM users WHERE id = ?`, id)
}

// updateUser runs a write of one user and reports ErrUserNotFound when it
// changed no row.
func (d *DB) updateUser(ctx context.Context, op, query string, args ...any) error {
	res, err := d.write.ExecContext(ctx, query, args...)
	if err != nil {
		return storeError(op, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return err
	}
	if n == 0 {
		return tollgate.ErrUserNotFound
	}
	return nil
}
