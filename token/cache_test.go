package token

import (
	"encoding/base64"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tollgate/tollgate"
)

func cachedHeaders(c *Codec) int {
	if m := c.headers.m.Load(); m != nil {
		return len(*m)
	}
	return 0
}

// Only a token whose signature verified teaches the cache its header, so a
// forger cannot fill it; and it never grows past its bound.
func TestHeaderCache_OnlyVerifiedHeadersAndBounded(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	ks, err := NewHMACKeySet("HS256", secret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	c, err := New(Config{Keys: ks, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(key []byte, header string) string {
		enc := func(s string) string { return b64(s) }
		input := enc(header) + "." + enc(`{"token_type":"access","jti":"j","user_id":"1","exp":`+strconv.FormatInt(now.Unix()+60, 10)+`}`)
		sig, err := jwt.SigningMethodHS256.Sign(input, key)
		if err != nil {
			t.Fatal(err)
		}
		return input + "." + b64(string(sig))
	}
	forger := []byte("another secret that is 32 bytes!")
	for i := range 50 {
		if _, err := c.Parse(sign(forger, `{"alg":"HS256","kid":"","typ":"JWT"`+spaces(i)+`}`), tollgate.AccessToken); err == nil {
			t.Fatal("forgery accepted")
		}
	}
	if n := cachedHeaders(c); n != 0 {
		t.Fatalf("forgeries cached %d headers", n)
	}
	for i := range 3 * maxCachedHeaders {
		if _, err := c.Parse(sign(secret, `{"alg":"HS256","typ":"JWT"`+spaces(i)+`}`), tollgate.AccessToken); err != nil {
			t.Fatalf("header %d: %v", i, err)
		}
		if n := cachedHeaders(c); n < 1 || n > maxCachedHeaders {
			t.Fatalf("after %d headers the cache holds %d", i+1, n)
		}
	}
}

func spaces(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = ' '
	}
	return string(b)
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
