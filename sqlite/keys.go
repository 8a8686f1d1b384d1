package sqlite

import (
	"context"
	"database/sql"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tollgate/tollgate"
)

var _ tollgate.KeyStore = (*DB)(nil)

// CreateSigningKey inserts k; ErrKeyExists when its id is taken.
func (d *DB) CreateSigningKey(ctx context.Context, k *tollgate.SigningKey) error {
	_, err := d.write.ExecContext(ctx, `
		INSERT INTO signing_keys (id, algorithm, private_key, encrypted, public_key, created_at, activates_at, retires_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Algorithm, nullBytes(k.PrivateKey), k.Encrypted, nullBytes(k.PublicKey),
		unix(k.CreatedAt), unix(k.ActivatesAt), nullUnix(k.RetiresAt), nullUnix(k.RevokedAt))
	if constraint(err, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE) {
		return tollgate.ErrKeyExists
	}
	if err != nil {
		return storeError("creating signing key", err)
	}
	return nil
}

// SigningKeys returns every key, oldest activation first.
func (d *DB) SigningKeys(ctx context.Context) ([]*tollgate.SigningKey, error) {
	rows, err := d.read.QueryContext(ctx, `
		SELECT id, algorithm, private_key, encrypted, public_key, created_at, activates_at, retires_at, revoked_at
		FROM signing_keys ORDER BY activates_at, id`)
	if err != nil {
		return nil, storeError("listing signing keys", err)
	}
	defer rows.Close()
	var out []*tollgate.SigningKey
	for rows.Next() {
		var (
			k                  tollgate.SigningKey
			created, activates int64
			retires, revoked   sql.NullInt64
		)
		if err := rows.Scan(&k.ID, &k.Algorithm, &k.PrivateKey, &k.Encrypted, &k.PublicKey,
			&created, &activates, &retires, &revoked); err != nil {
			return nil, storeError("reading signing key", err)
		}
		k.CreatedAt, k.ActivatesAt = fromUnix(created), fromUnix(activates)
		k.RetiresAt, k.RevokedAt = fromNullUnix(retires), fromNullUnix(revoked)
		out = append(out, &k)
	}
	if err := rows.Err(); err != nil {
		return nil, storeError("listing signing keys", err)
	}
	return out, nil
}

// UpdateSigningKeyDates sets the dates of key k.ID.
func (d *DB) UpdateSigningKeyDates(ctx context.Context, k *tollgate.SigningKey) error {
	res, err := d.write.ExecContext(ctx,
		`UPDATE signing_keys SET activates_at = ?, retires_at = ?, revoked_at = ? WHERE id = ?`,
		unix(k.ActivatesAt), nullUnix(k.RetiresAt), nullUnix(k.RevokedAt), k.ID)
	return keyChanged(res, err, "updating signing key")
}

// DeleteSigningKey removes key id.
func (d *DB) DeleteSigningKey(ctx context.Context, id string) error {
	res, err := d.write.ExecContext(ctx, `DELETE FROM signing_keys WHERE id = ?`, id)
	return keyChanged(res, err, "deleting signing key")
}

func keyChanged(res sql.Result, err error, op string) error {
	if err != nil {
		return storeError(op, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return storeError(op, err)
	}
	if n == 0 {
		return tollgate.ErrKeyNotFound
	}
	return nil
}

// nullBytes stores an empty key as NULL.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}
