package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate/tollgate"
)

// lines decodes the JSON lines a sink wrote.
func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not one JSON object per line: %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func newTestSink(reg prometheus.Registerer) (tollgate.EventSink, *bytes.Buffer) {
	var buf bytes.Buffer
	return NewSink(slog.New(slog.NewJSONHandler(&buf, nil)), reg), &buf
}

func TestRecord_WritesOneJSONLinePerEventWithItsFields(t *testing.T) {
	reg := prometheus.NewRegistry()
	sink, buf := newTestSink(reg)
	ctx := context.Background()
	sink.Record(ctx, tollgate.Event{Type: tollgate.EventRefreshTokenReused, UserID: 42, SessionID: "s1", JTI: "j1", IP: "203.0.113.9", UserAgent: "curl/8"})
	sink.Record(ctx, tollgate.Event{Type: tollgate.EventLoginFailed, Login: "alice", IP: "203.0.113.9", Reason: "bad_password"})
	sink.Record(ctx, tollgate.Event{Type: tollgate.EventLoginFailed, Login: "bob", Reason: "unknown_user"})
	sink.Record(ctx, tollgate.Event{Type: tollgate.EventFamilyRevoked, UserID: 42, SessionID: "s1", Reason: tollgate.RevokeReuse})
	sink.Record(ctx, tollgate.Event{Type: tollgate.EventFamilyRevoked, UserID: 42, SessionID: "s2", Reason: tollgate.RevokeLogout})

	got := lines(t, buf)
	if len(got) != 5 {
		t.Fatalf("got %d lines, want 5:\n%s", len(got), buf)
	}
	want := []map[string]any{
		{"level": "WARN", "msg": Message, "event": "refresh_token_reused", "user_id": 42.0, "session_id": "s1", "jti": "j1", "ip": "203.0.113.9", "user_agent": "curl/8"},
		{"level": "INFO", "msg": Message, "event": "login_failed", "login": "alice", "ip": "203.0.113.9", "reason": "bad_password"},
		{"level": "INFO", "msg": Message, "event": "login_failed", "login": "bob", "reason": "unknown_user"},
		{"level": "WARN", "msg": Message, "event": "family_revoked", "user_id": 42.0, "session_id": "s1", "reason": "reuse_detected"},
		{"level": "INFO", "msg": Message, "event": "family_revoked", "user_id": 42.0, "session_id": "s2", "reason": "logout"},
	}
	for i := range want {
		delete(got[i], "time")
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("line %d = %v\nwant %v", i, got[i], want[i])
		}
	}

	if n := counterValue(t, reg, "login_failed"); n != 2 {
		t.Errorf("login_failed count = %v, want 2", n)
	}
	if n := counterValue(t, reg, "refresh_token_reused"); n != 1 {
		t.Errorf("refresh_token_reused count = %v, want 1", n)
	}
}

// series gathers the metric's values by event label.
func series(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != MetricName {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "event" {
					out[l.GetValue()] = m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}

// counterValue is the count of one event, failing when it is not exported.
func counterValue(t *testing.T, reg *prometheus.Registry, event string) float64 {
	t.Helper()
	v, ok := series(t, reg)[event]
	if !ok {
		t.Fatalf("no %s{event=%q}", MetricName, event)
	}
	return v
}

func TestNewSink_ExportsEveryKnownEventAtZeroAndBoundsLabels(t *testing.T) {
	reg := prometheus.NewRegistry()
	sink, _ := newTestSink(reg)
	sink.Record(context.Background(), tollgate.Event{Type: "made_up_by_a_bug"})
	if n := len(series(t, reg)); n != len(knownEvents)+1 {
		t.Errorf("series = %d, want %d known events + other", n, len(knownEvents))
	}
	if n := counterValue(t, reg, "other"); n != 1 {
		t.Errorf("other = %v, want 1", n)
	}
	if n := counterValue(t, reg, tollgate.EventCSRFFailed); n != 0 {
		t.Errorf("csrf_failed = %v, want 0", n)
	}
}

func TestNewSink_SecondSinkOnOneRegistryShares(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, _ := newTestSink(reg)
	b, _ := newTestSink(reg)
	a.Record(context.Background(), tollgate.Event{Type: tollgate.EventLogout})
	b.Record(context.Background(), tollgate.Event{Type: tollgate.EventLogout})
	if n := counterValue(t, reg, tollgate.EventLogout); n != 2 {
		t.Errorf("logout = %v, want 2 across both sinks", n)
	}
}

func TestNewSink_NilLoggerAndRegistryAreSafe(t *testing.T) {
	NewSink(nil, nil).Record(context.Background(), tollgate.Event{Type: tollgate.EventLogout})
}

// TestEvent_CarriesNoSecretFields is the redaction guard: tollgate.Event
// may only hold identifiers and request metadata. Adding a field makes this
// fail, so whoever adds it must decide here whether it is safe to log (and
// log it in Record).
func TestEvent_CarriesNoSecretFields(t *testing.T) {
	var names []string
	for _, f := range reflect.VisibleFields(reflect.TypeOf(tollgate.Event{})) {
		names = append(names, f.Name)
	}
	sort.Strings(names)
	want := []string{"IP", "JTI", "Login", "Reason", "SessionID", "Type", "UserAgent", "UserID"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("tollgate.Event fields = %v, want %v: review the new field for secrets and log it in Record", names, want)
	}
}

func TestRecord_RedactsTokenShapedValues(t *testing.T) {
	const access = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIn0.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
	sink, buf := newTestSink(nil)
	sink.Record(context.Background(), tollgate.Event{
		Type:      tollgate.EventLoginFailed,
		Login:     access, // a user pasted a token into the username field
		UserAgent: "client/1 Bearer " + access,
		Reason:    strings.Repeat("x", 1000),
	})
	out := buf.String()
	if strings.Contains(out, "eyJ") || strings.Contains(out, "c2lnbmF0dXJl") {
		t.Fatalf("a token reached the log: %s", out)
	}
	l := lines(t, buf)[0]
	if l["login"] != Redacted || l["user_agent"] != "client/1 Bearer "+Redacted {
		t.Errorf("login = %v, user_agent = %v", l["login"], l["user_agent"])
	}

	// The core lower-cases login names: a lower-cased token is redacted too.
	buf.Reset()
	sink.Record(context.Background(), tollgate.Event{Type: tollgate.EventLoginFailed, Login: "bearer " + strings.ToLower(access)})
	if out := buf.String(); strings.Contains(out, "eyj") || strings.Contains(out, "c2lnbmf0dxjl") {
		t.Fatalf("a lower-cased token reached the log: %s", out)
	}
	if r := l["reason"].(string); len(r) != maxField {
		t.Errorf("reason length = %d, want it bounded to %d", len(r), maxField)
	}
}
