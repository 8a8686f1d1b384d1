// Package middleware authenticates requests to any Go net/http service with
// Tollgate (or SimpleJWT) access tokens. It is a plain
// func(http.Handler) http.Handler, so it fits net/http, chi and anything else
// that speaks http.Handler; the verified claims (and, when a UserLoader is
// given, the user) reach handlers through the request context:
//
//	auth, err := middleware.New(middleware.Config{Tokens: codec})
//	if err != nil { ... }
//	mux.Handle("GET /api/hello", auth(hello))
//
//	func hello(w http.ResponseWriter, r *http.Request) {
//		id, _ := middleware.UserIDFrom(r.Context())
//		...
//	}
//
// Failures follow SimpleJWT's JWTAuthentication (status 401, the same codes
// and body shape) and RFC 6750 (a WWW-Authenticate challenge on every 401).
package middleware

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/tollgate/tollgate"
)

// UserLoader loads the user an access token was issued to.
// *tollgate.Service satisfies it. It returns an error matching
// tollgate.ErrUserNotFound when the user does not exist.
type UserLoader interface {
	User(ctx context.Context, id int64) (*tollgate.User, error)
}

// RevocationChecker reports whether a session (refresh-token family) was
// revoked, so access tokens of a logged-out session stop working before they
// expire. *tollgate.Service satisfies it.
type RevocationChecker interface {
	SessionRevoked(ctx context.Context, sessionID string) (bool, error)
}

// Config configures the middleware. Only Tokens is required; the zero value
// of every other field is SimpleJWT's default.
type Config struct {
	// Tokens verifies access tokens (a *token.Codec).
	Tokens tollgate.TokenCodec
	// Users, when set, loads the token's user on every request and refuses
	// deleted (user_not_found) and deactivated (user_inactive) users; the
	// user is then available through UserFrom. Without it the middleware is
	// stateless: it trusts a valid token until it expires.
	Users UserLoader
	// Revocations, when set, refuses access tokens whose session was revoked
	// (token_revoked). Tokens without a session id (minted by SimpleJWT)
	// belong to no session and cannot be revoked; they are accepted.
	Revocations RevocationChecker
	// HeaderName is the HTTP header carrying the token; default
	// "Authorization" (SimpleJWT's AUTH_HEADER_NAME, as a header name rather
	// than Django's META key).
	HeaderName string
	// HeaderTypes are the accepted schemes, compared case-sensitively as
	// SimpleJWT does; default ["Bearer"] (AUTH_HEADER_TYPES). The first one
	// names the scheme of the WWW-Authenticate challenge.
	HeaderTypes []string
	// CookieName, when set, is a cookie the access token is read from when
	// the request has no usable header (browser mode). This middleware does
	// no CSRF check: a service that sets it must put a CSRF defence in front
	// of its unsafe methods (TokenFromCookie tells it when one is needed).
	CookieName string
	// Realm is the realm of the WWW-Authenticate challenge; default "api".
	Realm string
	// Optional lets requests without credentials through, unauthenticated
	// (the handler sees no claims), instead of answering 401. A presented
	// token that fails is still refused.
	Optional bool
	// Logger receives internal errors (a failing UserLoader); nil is silent.
	Logger *slog.Logger
}

// authKey is the context key of the request's authentication.
type authKey struct{}

// authentication is what the middleware learnt about a request.
type authentication struct {
	claims     *tollgate.Claims
	user       *tollgate.User
	userID     int64
	hasUserID  bool
	fromCookie bool
}

// ClaimsFrom returns the verified claims of the request's access token, and
// false when the request was not authenticated (Optional mode).
func ClaimsFrom(ctx context.Context) (*tollgate.Claims, bool) {
	a, ok := ctx.Value(authKey{}).(*authentication)
	if !ok {
		return nil, false
	}
	return a.claims, true
}

// UserFrom returns the user loaded by the middleware. It reports false when
// the request was not authenticated or the middleware has no UserLoader.
func UserFrom(ctx context.Context) (*tollgate.User, bool) {
	a, ok := ctx.Value(authKey{}).(*authentication)
	if !ok || a.user == nil {
		return nil, false
	}
	return a.user, true
}

// UserIDFrom returns the authenticated user's id. It reports false when the
// request was not authenticated, or, without a UserLoader, when the token's
// user id is not an integer (read it from ClaimsFrom(ctx).UserID then).
func UserIDFrom(ctx context.Context) (int64, bool) {
	a, ok := ctx.Value(authKey{}).(*authentication)
	if !ok || !a.hasUserID {
		return 0, false
	}
	return a.userID, true
}

// TokenFromCookie reports whether the request was authenticated by the
// access-token cookie rather than a header: such a request was possibly sent
// by a browser on another site's behalf, so unsafe methods need CSRF checks.
func TokenFromCookie(ctx context.Context) bool {
	a, ok := ctx.Value(authKey{}).(*authentication)
	return ok && a.fromCookie
}

// authenticator is the configured middleware.
type authenticator struct {
	tokens      tollgate.TokenCodec
	users       UserLoader
	revocations RevocationChecker
	headerName  string // canonical, so the header map is indexed directly
	headerTypes []string
	cookieName  string
	optional    bool
	logger      *slog.Logger

	// WWW-Authenticate challenges, built once.
	challenge             string
	challengeInvalidToken string
	challengeBadRequest   string
}

// New returns the authentication middleware. It fails when the
// configuration is unusable (no token codec, a malformed header name, header
// type or realm), so mistakes surface at start-up.
func New(cfg Config) (func(http.Handler) http.Handler, error) {
	a, err := newAuthenticator(cfg)
	if err != nil {
		return nil, err
	}
	return a.wrap, nil
}

func newAuthenticator(cfg Config) (*authenticator, error) {
	if cfg.Tokens == nil {
		return nil, errors.New("middleware: Config.Tokens is required")
	}
	if cfg.HeaderName == "" {
		cfg.HeaderName = "Authorization"
	}
	if !validToken(cfg.HeaderName) {
		return nil, fmt.Errorf("middleware: invalid header name %q", cfg.HeaderName)
	}
	if len(cfg.HeaderTypes) == 0 {
		cfg.HeaderTypes = []string{"Bearer"}
	}
	for _, t := range cfg.HeaderTypes {
		if !validToken(t) {
			return nil, fmt.Errorf("middleware: invalid header type %q", t)
		}
	}
	if cfg.Realm == "" {
		cfg.Realm = "api"
	}
	if strings.ContainsAny(cfg.Realm, "\"\\") || strings.ContainsFunc(cfg.Realm, isControl) {
		return nil, fmt.Errorf("middleware: the realm %q may not contain quotes, backslashes or control characters", cfg.Realm)
	}
	a := &authenticator{
		tokens:      cfg.Tokens,
		users:       cfg.Users,
		revocations: cfg.Revocations,
		headerName:  textproto.CanonicalMIMEHeaderKey(cfg.HeaderName),
		headerTypes: append([]string(nil), cfg.HeaderTypes...),
		cookieName:  cfg.CookieName,
		optional:    cfg.Optional,
		logger:      cfg.Logger,
	}
	a.challenge = cfg.HeaderTypes[0] + ` realm="` + cfg.Realm + `"`
	a.challengeInvalidToken = a.challenge + `, error="invalid_token"`
	a.challengeBadRequest = a.challenge + `, error="invalid_request"`
	return a, nil
}

func (a *authenticator) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, fromCookie, err := a.credentials(r)
		if err != nil {
			a.fail(w, r, err, a.challengeBadRequest, false)
			return
		}
		if raw == "" {
			if a.optional {
				next.ServeHTTP(w, r)
				return
			}
			a.fail(w, r, errNotAuthenticated, a.challenge, false)
			return
		}
		auth, err := a.authenticate(r.Context(), raw)
		if err != nil {
			a.fail(w, r, err, a.challengeInvalidToken, true)
			return
		}
		auth.fromCookie = fromCookie
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), authKey{}, auth)))
	})
}

var (
	errNotAuthenticated = &tollgate.Error{Code: tollgate.ENotAuthenticated, Message: "Authentication credentials were not provided."}
	errBadHeader        = &tollgate.Error{Code: tollgate.EBadAuthHeader, Message: "Authorization header must contain two space-delimited values"}
)

// credentials finds the raw token, as SimpleJWT's get_raw_token does: the
// header is split on whitespace; no fields, or a first field that is not an
// accepted type, is no credentials (another authenticator's business); an
// accepted type followed by anything but exactly one field is a bad header.
// Without usable header credentials, the cookie (if configured) is read.
func (a *authenticator) credentials(r *http.Request) (raw string, fromCookie bool, err error) {
	switch vs := r.Header[a.headerName]; len(vs) {
	case 0:
	case 1:
		scheme, token, n := splitFields(vs[0])
		if n > 0 && a.acceptedType(scheme) {
			if n != 2 {
				return "", false, errBadHeader
			}
			return token, false, nil
		}
	default:
		// Two headers are ambiguous (which one would a proxy have checked?).
		return "", false, errBadHeader
	}
	if a.cookieName != "" {
		if c, err := r.Cookie(a.cookieName); err == nil && c.Value != "" {
			return c.Value, true, nil
		}
	}
	return "", false, nil
}

func (a *authenticator) acceptedType(scheme string) bool {
	for _, t := range a.headerTypes {
		if scheme == t {
			return true
		}
	}
	return false
}

// authenticate verifies the token and, as configured, its session and user.
func (a *authenticator) authenticate(ctx context.Context, raw string) (*authentication, error) {
	claims, err := a.tokens.Parse(raw, tollgate.AccessToken)
	if err != nil {
		return nil, err
	}
	auth := &authentication{claims: claims}
	if id, err := strconv.ParseInt(claims.UserID, 10, 64); err == nil {
		auth.userID, auth.hasUserID = id, true
	}
	if a.revocations != nil && claims.SessionID != "" {
		revoked, err := a.revocations.SessionRevoked(ctx, claims.SessionID)
		if err != nil {
			return nil, fmt.Errorf("checking session revocation: %w", err)
		}
		if revoked {
			return nil, tollgate.ErrSessionRevoked
		}
	}
	if a.users != nil {
		if !auth.hasUserID {
			return nil, tollgate.ErrTokenInvalid
		}
		u, err := a.users.User(ctx, auth.userID)
		if err != nil {
			if errors.Is(err, tollgate.ErrUserNotFound) {
				return nil, tollgate.ErrUserNotFound
			}
			return nil, fmt.Errorf("loading user: %w", err)
		}
		if !u.IsActive {
			return nil, tollgate.ErrUserInactive
		}
		auth.user = u
	}
	return auth, nil
}

// fail answers an authentication failure. Every 401 carries the challenge;
// a failure of anything else (a store that is down) is answered by
// WriteError's status without one, since credentials would not help.
func (a *authenticator) fail(w http.ResponseWriter, r *http.Request, err error, challenge string, tokenPresented bool) {
	if errors.Is(err, context.DeadlineExceeded) && tollgate.ErrorCode(err) == tollgate.EInternal {
		err = fmt.Errorf("%w: %w", tollgate.ErrUnavailable, err)
	}
	if StatusCode(tollgate.ErrorCode(err)) == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", challenge)
	}
	writeError(w, r, a.logger, err, tokenPresented)
}

// splitFields splits s on ASCII whitespace like Python's bytes.split(),
// without allocating: it returns the first two fields and how many fields
// there are, counting at most 3.
func splitFields(s string) (first, second string, n int) {
	for i := 0; n < 3; n++ {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i == len(s) {
			return first, second, n
		}
		start := i
		for i < len(s) && !isSpace(s[i]) {
			i++
		}
		switch n {
		case 0:
			first = s[start:i]
		case 1:
			second = s[start:i]
		}
	}
	return first, second, n
}

func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\v', '\f':
		return true
	}
	return false
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// validToken reports whether s is an RFC 9110 token (a header name or an
// auth scheme).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
