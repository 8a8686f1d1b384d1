// Package token mints and parses Tollgate's JWTs (compact JWS) over
// github.com/golang-jwt/jwt/v5. It is the only package that touches the JOSE
// library; everything else sees tollgate.Claims.
//
// Parsing is strict by default: the algorithm allow-list comes from the
// Codec's configuration, never from the token; exp, jti and token_type are
// required; only the header fields alg, typ and kid are accepted (so embedded
// jwk/jku/x5u/x5c, crit and b64 are refused); base64 must be canonical; the
// token size is bounded before any decoding.
package token

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tollgate/tollgate"
)

// DefaultMaxSize bounds the length of a token accepted for parsing.
const DefaultMaxSize = 8 << 10

// Registered and Tollgate claim names.
const (
	ClaimTokenType = "token_type"
	ClaimJTI       = "jti"
	ClaimExp       = "exp"
	ClaimIat       = "iat"
	ClaimIss       = "iss"
	ClaimAud       = "aud"
	ClaimSessionID = "sid"
	// DefaultUserIDClaim is SimpleJWT's default USER_ID_CLAIM.
	DefaultUserIDClaim = "user_id"
)

// reserved are the claims Sign sets itself; a ClaimsHook cannot override them.
var reserved = map[string]bool{
	ClaimTokenType: true, ClaimJTI: true, ClaimExp: true, ClaimIat: true,
	ClaimIss: true, ClaimAud: true, ClaimSessionID: true, "nbf": true, "sub": true,
}

// Config configures a Codec.
type Config struct {
	// Keys supplies the signing key and the keys that verify.
	Keys KeySet
	// UserIDClaim is the claim carrying the user id; default "user_id".
	UserIDClaim string
	// Issuer, when set, is put in "iss" and required on parse.
	Issuer string
	// Audience, when set, is put in "aud" and one of them is required on parse.
	Audience []string
	// Leeway shifts "now" back when checking exp (clock skew); default 0.
	Leeway time.Duration
	// MaxSize bounds the token length; default DefaultMaxSize.
	MaxSize int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Codec implements tollgate.TokenCodec.
type Codec struct {
	keys        KeySet
	userIDClaim string
	issuer      string
	audience    []string
	maxSize     int
	now         func() time.Time
	parser      *jwt.Parser
}

var _ tollgate.TokenCodec = (*Codec)(nil)

// New returns a Codec. It fails when the key set offers no algorithm.
func New(cfg Config) (*Codec, error) {
	if cfg.Keys == nil {
		return nil, errors.New("token: a key set is required")
	}
	algs := cfg.Keys.Algorithms()
	if len(algs) == 0 {
		return nil, errors.New("token: the key set allows no algorithm")
	}
	c := &Codec{
		keys:        cfg.Keys,
		userIDClaim: cfg.UserIDClaim,
		issuer:      cfg.Issuer,
		audience:    cfg.Audience,
		maxSize:     cfg.MaxSize,
		now:         cfg.Now,
	}
	if c.userIDClaim == "" {
		c.userIDClaim = DefaultUserIDClaim
	}
	if c.maxSize <= 0 {
		c.maxSize = DefaultMaxSize
	}
	if c.now == nil {
		c.now = time.Now
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(algs),
		jwt.WithExpirationRequired(),
		jwt.WithStrictDecoding(),
		jwt.WithJSONNumber(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(func() time.Time { return c.now() }),
	}
	if c.issuer != "" {
		opts = append(opts, jwt.WithIssuer(c.issuer))
	}
	if len(c.audience) > 0 {
		opts = append(opts, jwt.WithAudience(c.audience...))
	}
	c.parser = jwt.NewParser(opts...)
	return c, nil
}

// Sign returns the compact JWS of claims, signed with the key set's current
// signing key. The user id is written as a string, as SimpleJWT writes it.
func (c *Codec) Sign(cl *tollgate.Claims) (string, error) {
	key, err := c.keys.SigningKey()
	if err != nil {
		return "", fmt.Errorf("token: signing key: %w", err)
	}
	m := make(jwt.MapClaims, 8+len(cl.Extra))
	for k, v := range cl.Extra {
		if !reserved[k] && k != c.userIDClaim {
			m[k] = v
		}
	}
	m[ClaimTokenType] = string(cl.Type)
	m[ClaimExp] = cl.ExpiresAt.Unix()
	m[ClaimIat] = cl.IssuedAt.Unix()
	m[ClaimJTI] = cl.JTI
	m[c.userIDClaim] = cl.UserID
	if cl.SessionID != "" {
		m[ClaimSessionID] = cl.SessionID
	}
	if c.issuer != "" {
		m[ClaimIss] = c.issuer
	}
	switch len(c.audience) {
	case 0:
	case 1:
		m[ClaimAud] = c.audience[0]
	default:
		m[ClaimAud] = c.audience
	}
	t := jwt.NewWithClaims(key.Method, m)
	if key.ID != "" {
		t.Header["kid"] = key.ID
	}
	return t.SignedString(key.Private)
}

// allowedHeader lists the only JOSE header fields a token may carry.
var allowedHeader = map[string]bool{"alg": true, "typ": true, "kid": true}

// Parse verifies raw and returns its claims; want "" accepts either type.
func (c *Codec) Parse(raw string, want tollgate.TokenType) (*tollgate.Claims, error) {
	if raw == "" || len(raw) > c.maxSize || strings.Count(raw, ".") != 2 {
		return nil, tollgate.ErrTokenInvalid
	}
	if err := checkCharset(raw); err != nil {
		return nil, invalid(err)
	}
	if err := checkSegments(raw); err != nil {
		return nil, invalid(err)
	}
	m := jwt.MapClaims{}
	_, err := c.parser.ParseWithClaims(raw, m, c.keyFor)
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return nil, tollgate.ErrTokenExpired
		}
		return nil, invalid(err)
	}
	cl, err := c.claims(m)
	if err != nil {
		return nil, err
	}
	if want != "" && cl.Type != want {
		return nil, tollgate.ErrWrongTokenType
	}
	return cl, nil
}

// invalid wraps the cause of a refusal under ErrTokenInvalid, so callers
// match it with errors.Is and the HTTP layer finds its *Error (code and
// client message) with errors.As; the cause is for logs only.
func invalid(cause error) error {
	return fmt.Errorf("%w: %w", tollgate.ErrTokenInvalid, cause)
}

// keyFor is the jwt.Keyfunc: it refuses header fields it does not
// understand and looks the key up by kid and alg in the key set, so the
// token can never choose a key of another type (algorithm confusion).
func (c *Codec) keyFor(t *jwt.Token) (any, error) {
	for name := range t.Header {
		if !allowedHeader[name] {
			return nil, fmt.Errorf("token: header field %q is not accepted", name)
		}
	}
	if typ, ok := t.Header["typ"]; ok {
		s, isStr := typ.(string)
		if !isStr || !strings.EqualFold(s, "JWT") {
			return nil, errors.New("token: typ must be JWT")
		}
	}
	kid := ""
	if v, ok := t.Header["kid"]; ok {
		s, isStr := v.(string)
		if !isStr {
			return nil, errors.New("token: kid must be a string")
		}
		kid = s
	}
	key, err := c.keys.VerificationKey(kid, t.Method.Alg())
	if err != nil {
		return nil, err
	}
	return key.Public, nil
}

// claims turns verified map claims into tollgate.Claims, refusing missing
// or mistyped required claims.
func (c *Codec) claims(m jwt.MapClaims) (*tollgate.Claims, error) {
	cl := &tollgate.Claims{}
	tt, ok := m[ClaimTokenType].(string)
	if !ok || (tt != string(tollgate.AccessToken) && tt != string(tollgate.RefreshToken)) {
		return nil, tollgate.ErrTokenInvalid
	}
	cl.Type = tollgate.TokenType(tt)
	jti, ok := m[ClaimJTI].(string)
	if !ok || jti == "" || len(jti) > 255 {
		return nil, tollgate.ErrTokenInvalid
	}
	cl.JTI = jti
	// golang-jwt ignores the range error of a number like 1e999 and turns it
	// into an infinite date (and a NumericDate far in the past); refuse it
	// rather than reason about it.
	for _, name := range [...]string{ClaimExp, "nbf", ClaimIat} {
		v, present := m[name]
		if !present {
			continue
		}
		n, ok := v.(json.Number)
		if !ok {
			return nil, tollgate.ErrTokenInvalid
		}
		if f, err := n.Float64(); err != nil || math.IsNaN(f) {
			return nil, tollgate.ErrTokenInvalid
		}
	}
	exp, err := m.GetExpirationTime()
	if err != nil || exp == nil {
		return nil, tollgate.ErrTokenInvalid
	}
	cl.ExpiresAt = exp.Time
	if iat, err := m.GetIssuedAt(); err != nil {
		return nil, tollgate.ErrTokenInvalid
	} else if iat != nil {
		cl.IssuedAt = iat.Time
	}
	switch v := m[c.userIDClaim].(type) {
	case string:
		cl.UserID = v
	case json.Number:
		// SimpleJWT before 5.3 wrote integer ids as numbers.
		if _, err := strconv.ParseInt(v.String(), 10, 64); err != nil {
			return nil, tollgate.ErrTokenInvalid
		}
		cl.UserID = v.String()
	default:
		return nil, tollgate.ErrTokenInvalid
	}
	if cl.UserID == "" || len(cl.UserID) > 255 {
		return nil, tollgate.ErrTokenInvalid
	}
	if v, ok := m[ClaimSessionID]; ok {
		s, isStr := v.(string)
		if !isStr || len(s) > 255 {
			return nil, tollgate.ErrTokenInvalid
		}
		cl.SessionID = s
	}
	if iss, ok := m[ClaimIss].(string); ok {
		cl.Issuer = iss
	}
	if aud, err := m.GetAudience(); err == nil {
		cl.Audience = aud
	}
	for k, v := range m {
		if !reserved[k] && k != c.userIDClaim {
			if cl.Extra == nil {
				cl.Extra = make(map[string]any)
			}
			cl.Extra[k] = v
		}
	}
	return cl, nil
}
