package keys

import (
	"context"
	"sort"
	"sync"

	"github.com/tollgate/tollgate"
)

// MemoryStore is a tollgate.KeyStore in process memory: for tests and for
// a single instance that may lose its keys on restart.
type MemoryStore struct {
	mu   sync.Mutex
	keys map[string]tollgate.SigningKey
}

var _ tollgate.KeyStore = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{keys: map[string]tollgate.SigningKey{}} }

// CreateSigningKey stores a copy of k.
func (m *MemoryStore) CreateSigningKey(_ context.Context, k *tollgate.SigningKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.keys[k.ID]; ok {
		return tollgate.ErrKeyExists
	}
	c := *k
	c.PrivateKey = append([]byte(nil), k.PrivateKey...)
	c.PublicKey = append([]byte(nil), k.PublicKey...)
	m.keys[k.ID] = c
	return nil
}

// SigningKeys returns copies of every key, oldest ActivatesAt first.
func (m *MemoryStore) SigningKeys(context.Context) ([]*tollgate.SigningKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*tollgate.SigningKey, 0, len(m.keys))
	for _, k := range m.keys {
		c := k
		out = append(out, &c)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].ActivatesAt.Equal(out[j].ActivatesAt) {
			return out[i].ActivatesAt.Before(out[j].ActivatesAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// UpdateSigningKeyDates sets the dates of key k.ID.
func (m *MemoryStore) UpdateSigningKeyDates(_ context.Context, k *tollgate.SigningKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.keys[k.ID]
	if !ok {
		return tollgate.ErrKeyNotFound
	}
	c.ActivatesAt, c.RetiresAt, c.RevokedAt = k.ActivatesAt, k.RetiresAt, k.RevokedAt
	m.keys[k.ID] = c
	return nil
}

// DeleteSigningKey removes key id.
func (m *MemoryStore) DeleteSigningKey(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.keys[id]; !ok {
		return tollgate.ErrKeyNotFound
	}
	delete(m.keys, id)
	return nil
}
