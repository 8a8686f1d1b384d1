package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tollgate/tollgate"
)

var _ tollgate.KeyStore = (*DB)(nil)

// CreateSigningKey inserts k; ErrKeyExists when its id is taken.
func (db *DB) CreateSigningKey(ctx context.Context, k *tollgate.SigningKey) error {
	_, err := db.pool.Exec(ctx, `
		INSERT INTO signing_keys (id, algorithm, private_key, encrypted, public_key, created_at, activates_at, retires_at, revoked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		k.ID, k.Algorithm, nullBytes(k.PrivateKey), k.Encrypted, nullBytes(k.PublicKey),
		ts(k.CreatedAt), ts(k.ActivatesAt), ts(k.RetiresAt), ts(k.RevokedAt))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return tollgate.ErrKeyExists
	}
	if err != nil {
		return fmt.Errorf("postgres: creating signing key: %w", mapErr(err))
	}
	return nil
}

// SigningKeys returns every key, oldest activation first.
func (db *DB) SigningKeys(ctx context.Context) ([]*tollgate.SigningKey, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT id, algorithm, private_key, encrypted, public_key, created_at, activates_at, retires_at, revoked_at
		FROM signing_keys ORDER BY activates_at, id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: listing signing keys: %w", mapErr(err))
	}
	defer rows.Close()
	var out []*tollgate.SigningKey
	for rows.Next() {
		var k tollgate.SigningKey
		var created, activates, retires, revoked pgtype.Timestamptz
		if err := rows.Scan(&k.ID, &k.Algorithm, &k.PrivateKey, &k.Encrypted, &k.PublicKey,
			&created, &activates, &retires, &revoked); err != nil {
			return nil, fmt.Errorf("postgres: reading signing key: %w", mapErr(err))
		}
		k.CreatedAt, k.ActivatesAt, k.RetiresAt, k.RevokedAt = tm(created), tm(activates), tm(retires), tm(revoked)
		out = append(out, &k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: listing signing keys: %w", mapErr(err))
	}
	return out, nil
}

// UpdateSigningKeyDates sets the dates of key k.ID.
func (db *DB) UpdateSigningKeyDates(ctx context.Context, k *tollgate.SigningKey) error {
	tag, err := db.pool.Exec(ctx,
		`UPDATE signing_keys SET activates_at = $2, retires_at = $3, revoked_at = $4 WHERE id = $1`,
		k.ID, ts(k.ActivatesAt), ts(k.RetiresAt), ts(k.RevokedAt))
	if err != nil {
		return fmt.Errorf("postgres: updating signing key: %w", mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return tollgate.ErrKeyNotFound
	}
	return nil
}

// DeleteSigningKey removes key id.
func (db *DB) DeleteSigningKey(ctx context.Context, id string) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM signing_keys WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("postgres: deleting signing key: %w", mapErr(err))
	}
	if tag.RowsAffected() == 0 {
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
