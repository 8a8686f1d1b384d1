package tollgate

import "context"

// Security event types. Each is logged as one structured JSON line and
// counted in a metric of the same name.
const (
	EventLoginSucceeded       = "login_succeeded"
	EventLoginFailed          = "login_failed"
	EventAccountLocked        = "account_locked"
	EventRateLimited          = "rate_limited"
	EventBlacklistedTokenUsed = "blacklisted_token_presented"
	EventRefreshTokenReused   = "refresh_token_reused"
	EventFamilyRevoked        = "family_revoked"
	EventLogout               = "logout"
	EventLogoutAll            = "logout_all"
	EventPasswordChanged      = "password_changed"
	EventPasswordHashUpgraded = "password_hash_upgraded"
	EventCSRFFailed           = "csrf_failed"
	EventKeyRotated           = "key_rotated"
	EventSocialAccountLinked  = "social_account_linked"
)

// Event is one security event. It never carries a token, password or
// secret: only identifiers (user id, session id, jti) and request metadata.
type Event struct {
	Type      string
	UserID    int64  // 0 when unknown
	Login     string // the login name tried, for failed logins; never a password
	SessionID string
	JTI       string
	IP        string
	UserAgent string
	Reason    string
}

// EventSink records security events (a JSON logger, a metric, both).
type EventSink interface {
	Record(ctx context.Context, e Event)
}

// EventSinkFunc adapts a function to EventSink.
type EventSinkFunc func(ctx context.Context, e Event)

// Record calls f.
func (f EventSinkFunc) Record(ctx context.Context, e Event) { f(ctx, e) }

// RequestInfo is what the core may know of the client behind a call: it is
// recorded on sessions and in security events.
type RequestInfo struct {
	IP        string
	UserAgent string
}
