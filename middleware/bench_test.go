package middleware

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tollgate/tollgate"
)

// The SPEC's performance targets compare these sub-benchmarks side by side:
//
//	go test ./middleware -run '^$' -bench . -benchmem -benchtime=1s
//
// BenchmarkVerify: middleware/bare within 1.5x. BenchmarkAuthenticatedGET:
// with-middleware at least 90% of the requests/s of without-middleware.

func BenchmarkVerify(b *testing.B) {
	clk := &clock{now: t0.Add(time.Minute)}
	codec := newCodec(b, testKey, clk.Now)
	raw := sign(b, codec, accessClaims())
	dot := strings.LastIndexByte(raw, '.')
	signingInput := raw[:dot]
	sig, err := jwt.NewParser().DecodeSegment(raw[dot+1:])
	if err != nil {
		b.Fatal(err)
	}
	a, err := newAuthenticator(Config{Tokens: codec})
	if err != nil {
		b.Fatal(err)
	}

	b.Run("bare-HS256-Verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := jwt.SigningMethodHS256.Verify(signingInput, sig, testKey); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The codec alone, to tell the middleware's own cost from the codec's.
	b.Run("codec-Parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := codec.Parse(raw, tollgate.AccessToken); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("middleware", func(b *testing.B) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Bearer "+raw)
		b.ReportAllocs()
		for b.Loop() {
			tok, _, err := a.credentials(r)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := a.authenticate(r.Context(), tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkAuthenticatedGET(b *testing.B) {
	clk := &clock{now: t0.Add(time.Minute)}
	codec := newCodec(b, testKey, clk.Now)
	raw := sign(b, codec, accessClaims())
	mw, err := New(Config{Tokens: codec})
	if err != nil {
		b.Fatal(err)
	}
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"hello":"world"}`))
	})
	run := func(b *testing.B, h http.Handler) {
		r := httptest.NewRequest(http.MethodGet, "/api/hello", nil)
		r.Header.Set("Authorization", "Bearer "+raw)
		b.ReportAllocs()
		for b.Loop() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d", w.Code)
			}
		}
	}
	b.Run("without-middleware", func(b *testing.B) { run(b, hello) })
	b.Run("with-middleware", func(b *testing.B) { run(b, mw(hello)) })
}
