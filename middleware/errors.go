package middleware

import (
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"github.com/tollgate/tollgate"
)

// Codes of request-level failures raised by the HTTP layer before a request
// reaches the core (bad bodies, wrong methods). They sit here, beside the
// status mapping, so that every code the API speaks is mapped in one place.
const (
	EParseError           = "parse_error"            // body is not JSON, or not a JSON object
	ERequestTooLarge      = "request_too_large"      // body over the configured limit
	EUnsupportedMediaType = "unsupported_media_type" // a Content-Type the endpoint does not read
	EMethodNotAllowed     = "method_not_allowed"     // path exists, method does not; see the Allow header
)

// StatusCode maps an error code to its HTTP status. It is the one place
// where domain errors meet HTTP; the auth API and the middleware both render
// errors through WriteError, which calls it.
func StatusCode(code string) int {
	switch code {
	case tollgate.EInvalid, EParseError, ERequestTooLarge:
		return http.StatusBadRequest
	case EUnsupportedMediaType:
		return http.StatusUnsupportedMediaType
	case EMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case tollgate.ETokenNotValid, tollgate.ENoActiveAccount, tollgate.ENotAuthenticated,
		tollgate.EBadAuthHeader, tollgate.EUserNotFound, tollgate.EUserInactive, tollgate.ETokenRevoked:
		return http.StatusUnauthorized
	case tollgate.EPermissionDenied:
		return http.StatusForbidden
	case tollgate.ENotFound:
		return http.StatusNotFound
	case tollgate.EConflict:
		return http.StatusConflict
	case tollgate.ERateLimited:
		return http.StatusTooManyRequests
	case tollgate.EUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// ErrorBody is the JSON of every non-field error, in the shape of Django
// REST Framework + SimpleJWT: {"detail": "...", "code": "..."}, plus
// "messages" on token errors raised by the authentication middleware.
type ErrorBody struct {
	Detail   string         `json:"detail"`
	Code     string         `json:"code"`
	Messages []TokenMessage `json:"messages,omitempty"`
}

// TokenMessage is one entry of SimpleJWT's "messages" list.
type TokenMessage struct {
	TokenClass string `json:"token_class"`
	TokenType  string `json:"token_type"`
	Message    string `json:"message"`
}

// WriteError renders err as JSON with the status of its code. Field errors
// (EInvalid with Fields) are rendered as DRF's field map,
// {"refresh": ["This field is required."]}. Errors that are not
// *tollgate.Error are logged with logger (may be nil) and answered with a
// bare 500 that reveals nothing.
func WriteError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	writeError(w, r, logger, err, false)
}

// Access-token failures are rendered as SimpleJWT's JWTAuthentication
// renders them: this detail, and the reason in "messages".
const (
	invalidAccessTokenDetail = "Given token not valid for any token type"
	accessTokenClass         = "AccessToken"
)

// writeError is WriteError. accessToken says err is about an access token
// presented to the authentication middleware: a token_not_valid error then
// carries SimpleJWT's "messages" list, which front-ends written for it read.
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error, accessToken bool) {
	var e *tollgate.Error
	if !errors.As(err, &e) {
		if logger != nil {
			logger.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		e = &tollgate.Error{Code: tollgate.EInternal, Message: "Internal server error."}
	} else if e.Code == tollgate.EInternal || e.Code == tollgate.EUnavailable {
		if logger != nil {
			logger.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "code", e.Code, "err", err)
		}
	}
	status := StatusCode(e.Code)
	h := w.Header()
	if e.Code == tollgate.ERateLimited && e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	if e.Code == tollgate.EInvalid && len(e.Fields) > 0 {
		writeJSON(w, status, e.Fields)
		return
	}
	if accessToken && e.Code == tollgate.ETokenNotValid {
		writeJSON(w, status, ErrorBody{
			Detail: invalidAccessTokenDetail,
			Code:   e.Code,
			Messages: []TokenMessage{{
				TokenClass: accessTokenClass,
				TokenType:  string(tollgate.AccessToken),
				Message:    e.Message,
			}},
		})
		return
	}
	writeJSON(w, status, ErrorBody{Detail: e.Message, Code: e.Code})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
