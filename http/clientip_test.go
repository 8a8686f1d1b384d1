package http

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientIP_TrustsForwardedForOnlyFromTrustedProxies(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name    string
		peer    string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"no proxies configured: header ignored", "203.0.113.9:5000", []string{"1.2.3.4"}, nil, "203.0.113.9"},
		{"untrusted peer: header ignored", "203.0.113.9:5000", []string{"1.2.3.4"}, proxies, "203.0.113.9"},
		{"trusted peer: rightmost untrusted entry", "10.0.0.1:5000", []string{"6.6.6.6, 198.51.100.7"}, proxies, "198.51.100.7"},
		{"spoofed left entries are skipped", "10.0.0.1:5000", []string{"1.1.1.1, 198.51.100.7, 10.0.0.2"}, proxies, "198.51.100.7"},
		{"several headers read as one list", "10.0.0.1:5000", []string{"1.1.1.1", "198.51.100.7, 10.0.0.3"}, proxies, "198.51.100.7"},
		{"trusted peer without header", "10.0.0.1:5000", nil, proxies, "10.0.0.1"},
		{"all entries trusted: leftmost", "10.0.0.1:5000", []string{"10.0.0.7, 10.0.0.2"}, proxies, "10.0.0.7"},
		{"garbage hop stops at last vouched address", "10.0.0.1:5000", []string{"198.51.100.7, junk, 10.0.0.2"}, proxies, "10.0.0.2"},
		{"ipv6 peer", "[2001:db8::1]:443", nil, proxies, "2001:db8::1"},
		{"ipv4-mapped ipv6 is unmapped", "[::ffff:203.0.113.9]:443", nil, nil, "203.0.113.9"},
		{"ipv6 proxy and bracketed entry", "[fd00::1]:443", []string{"[2001:db8::5]"}, proxies, "2001:db8::5"},
		{"entry with port", "10.0.0.1:5000", []string{"198.51.100.7:1234"}, proxies, "198.51.100.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.peer
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := clientIP(r, tt.trusted); got != tt.want {
				t.Errorf("clientIP = %q, want %q", got, tt.want)
			}
		})
	}
}
