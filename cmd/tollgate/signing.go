package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/keys"
	"github.com/tollgate/tollgate/token"
)

// openRotatingSet opens the signing keys stored in the database, the way
// serve and `tollgate keys` both see them. kek overrides the configured
// key-encryption key when not nil (keys --kek-file).
func openRotatingSet(ctx context.Context, cfg *config.Config, store tollgate.Store, kek []byte) (*keys.RotatingSet, error) {
	ks, ok := store.(tollgate.KeyStore)
	if !ok {
		return nil, errors.New("this database does not store signing keys")
	}
	if kek == nil {
		var err error
		if kek, err = cfg.KEK(); err != nil {
			return nil, err
		}
	}
	set, err := keys.NewRotatingSet(ctx, keys.Options{
		Store:      ks,
		Algorithm:  cfg.Algorithm,
		KEK:        kek,
		JWKSMaxAge: cfg.JWKSMaxAge,
		PublishFor: cfg.KeyPublishFor(),
		VerifyFor:  cfg.KeyVerifyFor(),
	})
	if errors.Is(err, keys.ErrNoKEK) || errors.Is(err, keys.ErrBadKEK) {
		return nil, fmt.Errorf("%sKEY_ENCRYPTION_KEY: %w", config.EnvPrefix, err)
	}
	return set, err
}

// signing is what serve signs and verifies tokens with.
type signing struct {
	keys token.KeySet
	// publisher lists the public keys at /.well-known/jwks.json; nil for
	// HMAC, whose secret is never published.
	publisher keys.Publisher
	// rotating is the database-stored key set, kept current by run; nil
	// when the key comes from SIGNING_KEY.
	rotating *keys.RotatingSet
	devKey   *config.DevKey
}

// newSigning picks the keys: HMAC from SIGNING_KEY (or the dev key), an
// asymmetric PEM from SIGNING_KEY, or, for an asymmetric ALGORITHM without
// SIGNING_KEY, keys stored in the database, generating the first one on a
// deployment's first start. events hears of a generated key.
func newSigning(ctx context.Context, cfg *config.Config, store tollgate.Store, events tollgate.EventSink, logger *slog.Logger) (*signing, error) {
	if !cfg.StoredKeys() {
		ks, devKey, err := cfg.KeySet(rand.Reader)
		if err != nil {
			return nil, err
		}
		s := &signing{keys: ks, devKey: devKey}
		if !config.IsHMAC(cfg.Algorithm) {
			k, err := ks.SigningKey()
			if err != nil {
				return nil, err
			}
			s.publisher = keys.NewStaticPublisher(cfg.JWKSMaxAge, k)
		}
		return s, nil
	}
	set, err := openRotatingSet(ctx, cfg, store, nil)
	if err != nil {
		return nil, err
	}
	created, err := set.EnsureSigner(ctx)
	if err != nil {
		return nil, fmt.Errorf("creating the first signing key: %w", err)
	}
	if created {
		if k, err := set.SigningKey(); err == nil {
			events.Record(ctx, tollgate.Event{Type: tollgate.EventKeyRotated, Reason: fmt.Sprintf("first %s signing key %s generated", cfg.Algorithm, k.ID)})
		}
	}
	if cfg.KeyEncryptionKey == "" && !cfg.Dev {
		logger.Warn("signing keys are stored in the database unencrypted; set TOLLGATE_KEY_ENCRYPTION_KEY_FILE to seal them at rest")
	}
	return &signing{keys: set, publisher: set, rotating: set}, nil
}

// run keeps a stored key set current until ctx ends: it rereads the keys
// every KEY_RELOAD_INTERVAL (rotations and revocations made by the CLI or
// another instance) and rotates when KEY_ROTATION_INTERVAL says so,
// recording a key_rotated event. Several instances may rotate at once; the
// extra key is harmless (the newest signs, the others verify and retire).
func (s *signing) run(ctx context.Context, cfg *config.Config, events tollgate.EventSink, logger *slog.Logger) {
	if s.rotating == nil {
		return
	}
	onRotate := func(in keys.Info) {
		events.Record(ctx, tollgate.Event{Type: tollgate.EventKeyRotated,
			Reason: fmt.Sprintf("%s key %s published; signs from %s", in.Algorithm, in.ID, in.ActivatesAt.UTC().Format(time.RFC3339))})
	}
	onError := func(err error) { logger.Error("refreshing signing keys", "err", err) }
	s.rotating.Run(ctx, cfg.KeyReloadInterval, cfg.KeyRotationInterval, onRotate, onError)
}

// discoveryURLs returns the issuer and JWKS URL of the discovery document,
// or ok false when ISSUER is not an http(s) URL (a discovery document needs
// absolute URLs).
func discoveryURLs(issuer string) (iss, jwksURI string, ok bool) {
	if !strings.HasPrefix(issuer, "https://") && !strings.HasPrefix(issuer, "http://") {
		return "", "", false
	}
	return issuer, strings.TrimSuffix(issuer, "/") + keys.JWKSPath, true
}

// sinks records every event in each of its sinks, in order.
type sinks []tollgate.EventSink

// Record passes e to every sink.
func (ss sinks) Record(ctx context.Context, e tollgate.Event) {
	for _, s := range ss {
		s.Record(ctx, e)
	}
}
