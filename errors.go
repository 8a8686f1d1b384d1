package tollgate

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. They are the machine-readable `code` of every error body the
// HTTP API returns (compatible with Django REST Framework + SimpleJWT), and the
// one thing callers should switch on. Mapping a code to an HTTP status happens
// in exactly one place, the http package.
const (
	EInvalid          = "invalid"           // malformed input; see Error.Fields
	ETokenNotValid    = "token_not_valid"   // bad, expired, blacklisted, reused or wrong-type token
	ENoActiveAccount  = "no_active_account" // bad credentials, inactive or vanished user
	ENotAuthenticated = "not_authenticated" // no credentials presented
	EBadAuthHeader    = "bad_authorization_header"
	EUserNotFound     = "user_not_found"      // token valid but its user is gone
	EUserInactive     = "user_inactive"       // token valid but its user is deactivated
	ETokenRevoked     = "token_revoked"       // access token of a revoked session
	ERateLimited      = "throttled"           // too many requests; see Error.RetryAfter
	ENotFound         = "not_found"           // no such resource (e.g. a session id)
	EPermissionDenied = "permission_denied"   // authenticated but not allowed (e.g. CSRF)
	EConflict         = "conflict"            // e.g. a username that is taken
	EUnavailable      = "service_unavailable" // a dependency (database) is down
	EInternal         = "internal"
)

// Error is the one error type of the domain. Its Code says what kind of
// failure it is; Message is safe to show to a client; Fields carries
// per-field validation messages in DRF's shape ({"refresh": ["This field is
// required."]}); RetryAfter is set on ERateLimited.
type Error struct {
	Code       string
	Message    string
	Fields     map[string][]string
	RetryAfter time.Duration
	// Err is an underlying cause; never shown to clients.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a client-safe message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an EInvalid error for one field, in DRF's shape.
func FieldError(field, message string) *Error {
	return &Error{Code: EInvalid, Message: "Invalid request.", Fields: map[string][]string{field: {message}}}
}

// ErrorCode returns the code of the first *Error in err's chain, EInternal
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// Sentinel errors. Compare with errors.Is; each is an *Error so the HTTP layer
// renders it without knowing which one it is.
var (
	// ErrTokenInvalid: signature, format or claims are wrong.
	ErrTokenInvalid = &Error{Code: ETokenNotValid, Message: "Token is invalid."}
	// ErrTokenExpired: exp is at or before now (shifted by the leeway).
	ErrTokenExpired = &Error{Code: ETokenNotValid, Message: "Token is expired."}
	// ErrWrongTokenType: an access token where a refresh token is wanted, or the other way round.
	ErrWrongTokenType = &Error{Code: ETokenNotValid, Message: "Token has wrong type."}
	// ErrTokenBlacklisted: the refresh token's session was revoked (logout, theft, password change).
	ErrTokenBlacklisted = &Error{Code: ETokenNotValid, Message: "Token is blacklisted."}
	// ErrTokenReused: a refresh token that was already rotated was presented again.
	// The whole session (family) has been revoked as a consequence.
	ErrTokenReused = &Error{Code: ETokenNotValid, Message: "Token is blacklisted."}
	// ErrInvalidCredentials: unknown user, wrong password or inactive account; deliberately one error.
	ErrInvalidCredentials = &Error{Code: ENoActiveAccount, Message: "No active account found with the given credentials."}
	// ErrUserNotFound: a store found no such user.
	ErrUserNotFound = &Error{Code: EUserNotFound, Message: "User not found."}
	// ErrUserInactive: the user exists but is deactivated.
	ErrUserInactive = &Error{Code: EUserInactive, Message: "User is inactive."}
	// ErrSessionNotFound: a store found no such session.
	ErrSessionNotFound = &Error{Code: ENotFound, Message: "Session not found."}
	// ErrSessionRevoked: an access token whose session was revoked (access revocation on).
	ErrSessionRevoked = &Error{Code: ETokenRevoked, Message: "Token has been revoked."}
	// ErrRotationConflict: a store's conditional rotation found the presented
	// refresh token no longer current (another refresh won the race).
	ErrRotationConflict = &Error{Code: ETokenNotValid, Message: "Token is blacklisted."}
	// ErrUsernameTaken: CreateUser with a username or email that exists.
	ErrUsernameTaken = &Error{Code: EConflict, Message: "A user with that username or email already exists."}
	// ErrUnavailable: the store cannot be reached; callers should retry later.
	ErrUnavailable = &Error{Code: EUnavailable, Message: "Service temporarily unavailable."}
)

// RateLimited returns an ERateLimited error that tells the client when to retry.
func RateLimited(retryAfter time.Duration) *Error {
	return &Error{Code: ERateLimited, Message: "Request was throttled.", RetryAfter: retryAfter}
}
