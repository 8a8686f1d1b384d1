package config

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// ParseDuration reads a duration the way Tollgate's settings accept one: Go
// syntax ("15m", "1h30m"), a days prefix Go lacks ("7d", "1d12h"), or a
// plain number of seconds ("900", "0.5"), because SimpleJWT users think in
// timedelta(seconds=...). Negative durations are refused.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("%q is not a duration", s)
		}
		if f < 0 {
			return 0, fmt.Errorf("%q is negative", s)
		}
		if f > float64(1<<63-1)/float64(time.Second) {
			return 0, fmt.Errorf("%q is too large", s)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.ParseUint(s[:i], 10, 16)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration (use Go syntax like 15m, a days suffix like 7d, or plain seconds)", s)
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (use Go syntax like 15m, a days suffix like 7d, or plain seconds)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return days + d, nil
}

// FormatDuration writes d in the shortest form ParseDuration reads back,
// using days for whole days ("7d") since that is how people set them.
func FormatDuration(d time.Duration) string {
	const day = 24 * time.Hour
	if d >= day && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	s := d.String()
	// time.Duration prints "15m0s"; drop the zero tails.
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Rate is a request budget: N requests per Per, e.g. "5/min".
type Rate struct {
	N   int
	Per time.Duration
}

// String writes r as ParseRate reads it.
func (r Rate) String() string {
	switch r.Per {
	case time.Second:
		return fmt.Sprintf("%d/sec", r.N)
	case time.Minute:
		return fmt.Sprintf("%d/min", r.N)
	case time.Hour:
		return fmt.Sprintf("%d/hour", r.N)
	case 24 * time.Hour:
		return fmt.Sprintf("%d/day", r.N)
	}
	return fmt.Sprintf("%d/%s", r.N, FormatDuration(r.Per))
}

// ParseRate reads a rate as Django REST Framework's throttles write one:
// "5/min", "100/hour", "10/s"; the period may also be any duration ("5/15m").
func ParseRate(s string) (Rate, error) {
	n, per, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Rate{}, fmt.Errorf("%q is not a rate (write it as N/period, e.g. 5/min)", s)
	}
	count, err := strconv.Atoi(strings.TrimSpace(n))
	if err != nil || count <= 0 {
		return Rate{}, fmt.Errorf("%q: the count must be a positive integer", s)
	}
	r := Rate{N: count}
	switch strings.ToLower(strings.TrimSpace(per)) {
	case "s", "sec", "second":
		r.Per = time.Second
	case "m", "min", "minute":
		r.Per = time.Minute
	case "h", "hour":
		r.Per = time.Hour
	case "d", "day":
		r.Per = 24 * time.Hour
	default:
		d, err := ParseDuration(per)
		if err != nil || d <= 0 {
			return Rate{}, fmt.Errorf("%q: the period must be sec, min, hour, day or a positive duration", s)
		}
		r.Per = d
	}
	return r, nil
}

// parseBool accepts the spellings people put in environment variables.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "t", "true", "yes", "y", "on":
		return true, nil
	case "0", "f", "false", "no", "n", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (use true or false)", s)
}

// parseList splits a comma- or space-separated list, dropping empties.
func parseList(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
	if len(f) == 0 {
		return nil
	}
	return f
}

// parsePrefixes reads CIDRs; a bare address is a one-address prefix.
func parsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range parseList(s) {
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not a CIDR (e.g. 10.0.0.0/8)", f)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP address or CIDR", f)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
