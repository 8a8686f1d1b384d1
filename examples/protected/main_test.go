package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/token"
)

var key = []byte("example-shared-secret-of-32-bytes!")

func mint(t *testing.T, userID string) string {
	t.Helper()
	keys, err := token.NewHMACKeySet("HS256", key)
	if err != nil {
		t.Fatal(err)
	}
	codec, err := token.New(token.Config{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	raw, err := codec.Sign(&tollgate.Claims{
		Type: tollgate.AccessToken, JTI: "00112233445566778899aabbccddeeff", UserID: userID,
		IssuedAt: now, ExpiresAt: now.Add(5 * time.Minute),
	})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestHello_AnswersTheTokensUser(t *testing.T) {
	h, err := newHandler(key)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		authz      string
		wantStatus int
		wantBody   string
	}{
		{"integer id", "Bearer " + mint(t, "42"), http.StatusOK, `{"user_id":42}`},
		{"non-integer id", "Bearer " + mint(t, "alice"), http.StatusOK, `{"user_id":"alice"}`},
		{"no token", "", http.StatusUnauthorized, `"code":"not_authenticated"`},
		{"bad token", "Bearer a.b.c", http.StatusUnauthorized, `"code":"token_not_valid"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/api/hello", nil)
			if tt.authz != "" {
				r.Header.Set("Authorization", tt.authz)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.wantStatus || !strings.Contains(w.Body.String(), tt.wantBody) {
				t.Fatalf("status %d, body %s; want %d with %s", w.Code, w.Body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

func TestNewHandler_RefusesShortKey(t *testing.T) {
	if _, err := newHandler([]byte("short")); err == nil {
		t.Fatal("a 5-byte key was accepted")
	}
}
