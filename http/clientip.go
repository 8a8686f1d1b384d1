package http

import (
	"net/http"
	"net/netip"
	"strings"
)

// clientIP returns the address rate limits and security events are keyed
// by: the socket peer, unless the peer is a trusted proxy, in which case the
// rightmost X-Forwarded-For entry that is not itself a trusted proxy. Entries
// left of that one were written by the client and can be forged, so they are
// never read.
func clientIP(r *http.Request, trusted []netip.Prefix) string {
	peer, ok := parseAddr(r.RemoteAddr)
	if !ok {
		// Not a socket address (a test, a unix socket): use it verbatim.
		return r.RemoteAddr
	}
	if !isTrusted(peer, trusted) {
		return peer.String()
	}
	client := peer
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, ok := parseAddr(strings.TrimSpace(parts[j]))
			if !ok {
				// A hop our own proxy would not have written: stop at the
				// last address a trusted proxy vouched for.
				return client.String()
			}
			client = a
			if !isTrusted(a, trusted) {
				return a.String()
			}
		}
	}
	return client.String()
}

// parseAddr reads "ip", "ip:port" or "[ipv6]:port", dropping IPv6 zones and
// unmapping IPv4-in-IPv6 so one client always has one key.
func parseAddr(s string) (netip.Addr, bool) {
	if s == "" {
		return netip.Addr{}, false
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
