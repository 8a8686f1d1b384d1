package token_test

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/keys"
	"github.com/tollgate/tollgate/token"
)

// BenchmarkCodec compares, per algorithm and on the same key, Tollgate's
// Sign and Parse with the bare golang-jwt signing method's Sign and Verify
// of the same token. The ratio codec/bare is the cost of everything
// Tollgate adds (claims, JSON, base64, header and duplicate-key checks).
//
//	go test -run '^$' -bench BenchmarkCodec -benchtime 1s ./token/
func BenchmarkCodec(b *testing.B) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	cl := &tollgate.Claims{Type: tollgate.AccessToken, JTI: "0123456789abcdef0123456789abcdef", UserID: "42",
		SessionID: "0123456789abcdef0123456789abcdef", IssuedAt: now, ExpiresAt: now.Add(5 * time.Minute)}
	for _, alg := range keys.Algorithms {
		k, err := keys.Generate(alg, nil)
		if err != nil {
			b.Fatal(err)
		}
		ks, _ := token.NewStaticKeySet(k)
		c, err := token.New(token.Config{Keys: ks, Now: func() time.Time { return now }})
		if err != nil {
			b.Fatal(err)
		}
		raw, err := c.Sign(cl)
		if err != nil {
			b.Fatal(err)
		}
		i := strings.LastIndexByte(raw, '.')
		input := raw[:i]
		sig, err := k.Method.Sign(input, k.Private)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(alg+"/sign/codec", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Sign(cl); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(alg+"/sign/bare", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.Method.Sign(input, k.Private); err != nil {
					b.Fatal(err)
				}
			}
		})
		// codec: the same token again, answered from the verified-token
		// cache (a client's steady state); codec-uncached: the full parse,
		// as for a token seen for the first time.
		b.Run(alg+"/verify/codec", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Parse(raw, tollgate.AccessToken); err != nil {
					b.Fatal(err)
				}
			}
		})
		cold, err := token.New(token.Config{Keys: ks, Now: func() time.Time { return now }, CacheSize: -1})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(alg+"/verify/codec-uncached", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := cold.Parse(raw, tollgate.AccessToken); err != nil {
					b.Fatal(err)
				}
			}
		})
		// golang-jwt's own jwt.Parse into jwt.MapClaims on the same token,
		// with the same key lookup: what a plain use of the library costs.
		keyfunc := func(*jwt.Token) (any, error) { return k.Public, nil }
		b.Run(alg+"/verify/library-parse", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := jwt.Parse(raw, keyfunc, jwt.WithValidMethods([]string{alg}),
					jwt.WithTimeFunc(func() time.Time { return now })); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(alg+"/verify/bare", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := k.Method.Verify(input, sig, k.Public); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
