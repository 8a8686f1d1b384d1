// Package audit records Tollgate's security events: each one as a single
// structured JSON line (through log/slog) and as a count in the Prometheus
// counter tollgate_security_events_total{event="..."}.
//
// Events carry identifiers (user id, session id, jti) and request metadata,
// never a token, password or secret; as a second guard, any field that looks
// like a JWT is replaced before it is written.
package audit

import (
	"context"
	"errors"
	"log/slog"
	"regexp"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate/tollgate"
)

// MetricName is the counter of security events, labelled by event.
const MetricName = "tollgate_security_events_total"

// Message is the slog message of every event line, so log pipelines can
// select them with msg == "security_event".
const Message = "security_event"

// maxField bounds client-controlled fields (user agent, login name) so a
// hostile client cannot make one log line arbitrarily large.
const maxField = 256

// knownEvents are the event types counted under their own label; anything
// else is counted as "other" so a bug cannot explode label cardinality.
var knownEvents = []string{
	tollgate.EventLoginSucceeded, tollgate.EventLoginFailed, tollgate.EventAccountLocked,
	tollgate.EventRateLimited, tollgate.EventBlacklistedTokenUsed, tollgate.EventRefreshTokenReused,
	tollgate.EventFamilyRevoked, tollgate.EventLogout, tollgate.EventLogoutAll,
	tollgate.EventPasswordChanged, tollgate.EventPasswordHashUpgraded, tollgate.EventCSRFFailed,
	tollgate.EventKeyRotated, tollgate.EventSocialAccountLinked,
}

// warnEvents are logged at Warn: they suggest an attack or a stolen token.
var warnEvents = map[string]bool{
	tollgate.EventAccountLocked:        true,
	tollgate.EventRateLimited:          true,
	tollgate.EventBlacklistedTokenUsed: true,
	tollgate.EventRefreshTokenReused:   true,
	tollgate.EventFamilyRevoked:        true,
	tollgate.EventCSRFFailed:           true,
}

// Sink is the tollgate.EventSink that logs and counts events.
type Sink struct {
	logger  *slog.Logger
	counter *prometheus.CounterVec
	known   map[string]bool
}

var _ tollgate.EventSink = (*Sink)(nil)

// NewSink returns a sink writing to logger (give it a slog JSON handler)
// and counting in reg (nil counts nothing). Registering twice with one
// registry reuses the counter already there.
func NewSink(logger *slog.Logger, reg prometheus.Registerer) tollgate.EventSink {
	return newSink(logger, reg)
}

func newSink(logger *slog.Logger, reg prometheus.Registerer) *Sink {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Sink{logger: logger, known: make(map[string]bool, len(knownEvents))}
	for _, e := range knownEvents {
		s.known[e] = true
	}
	if reg == nil {
		return s
	}
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricName,
		Help: "Security events recorded, by event type.",
	}, []string{"event"})
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				c = existing
			}
		}
	}
	// Export every known event at 0, so rate() and alerts work before the
	// first occurrence.
	for _, e := range knownEvents {
		c.WithLabelValues(e)
	}
	s.counter = c
	return s
}

// Record writes e as one JSON line and counts it. Empty fields are left
// out of the line.
func (s *Sink) Record(ctx context.Context, e tollgate.Event) {
	level := slog.LevelInfo
	// A session revoked by logout or a password change is routine; one
	// revoked because its token was replayed is not.
	if warnEvents[e.Type] && (e.Type != tollgate.EventFamilyRevoked || e.Reason == tollgate.RevokeReuse) {
		level = slog.LevelWarn
	}
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs, slog.String("event", clean(e.Type, maxField)))
	if e.UserID != 0 {
		attrs = append(attrs, slog.Int64("user_id", e.UserID))
	}
	for _, f := range []struct{ key, val string }{
		{"session_id", e.SessionID},
		{"jti", e.JTI},
		{"ip", e.IP},
		{"user_agent", e.UserAgent},
		{"reason", e.Reason},
		{"login", e.Login},
	} {
		if f.val != "" {
			attrs = append(attrs, slog.String(f.key, clean(f.val, maxField)))
		}
	}
	s.logger.LogAttrs(ctx, level, Message, attrs...)
	if s.counter != nil {
		label := e.Type
		if !s.known[label] {
			label = "other"
		}
		s.counter.WithLabelValues(label).Inc()
	}
}

// jwtLike matches a compact JWS/JWE: a base64url JSON header ("eyJ") and
// further dot-separated base64url parts. It ignores case: the core
// lower-cases login names before they reach an event, and a lower-cased
// token is still a token to whoever reads the log.
var jwtLike = regexp.MustCompile(`(?i)eyJ[A-Z0-9_-]*\.[A-Z0-9_-]*\.[A-Z0-9_-]*`)

// Redacted replaces anything token-shaped in an event field.
const Redacted = "[redacted-token]"

// clean bounds a field and replaces anything that looks like a token: a
// user who pastes a token into the username field must not have it logged.
func clean(s string, max int) string {
	if jwtLike.MatchString(s) {
		s = jwtLike.ReplaceAllString(s, Redacted)
	}
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "")
	}
	return s
}
