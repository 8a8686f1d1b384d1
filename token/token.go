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
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
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
	algs        []string // the allow-list, from the key set at New
	parser      *jwt.Parser
	validator   *jwt.Validator
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
	c.algs = slices.Clone(algs)
	opts := []jwt.ParserOption{
		jwt.WithExpirationRequired(),
		jwt.WithStrictDecoding(),
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
	c.validator = jwt.NewValidator(opts...)
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

// Parse verifies raw and returns its claims; want "" accepts either type.
//
// The order is the cost of a refusal: the size bound and the charset first,
// then the small header (its names, alg and kid) to choose the key, then the
// signature, with golang-jwt's signing method and the key chosen by kid and
// alg. Only a token that carries a valid signature has its payload decoded
// (one pass that checks duplicates and depth and extracts the claims) and
// then validated by golang-jwt's Validator.
func (c *Codec) Parse(raw string, want tollgate.TokenType) (*tollgate.Claims, error) {
	if raw == "" || len(raw) > c.maxSize || strings.Count(raw, ".") != 2 {
		return nil, tollgate.ErrTokenInvalid
	}
	if err := checkCharset(raw); err != nil {
		return nil, invalid(err)
	}
	headerSeg, rest, _ := strings.Cut(raw, ".")
	payloadSeg, sigSeg, _ := strings.Cut(rest, ".")
	header, err := decodeSegment(headerSeg)
	if err != nil {
		return nil, invalid(err)
	}
	var hm [4]member
	members, err := scanObject(header, hm[:0])
	if err != nil {
		return nil, invalid(err)
	}
	key, err := c.keyFor(members)
	if err != nil {
		return nil, invalid(err)
	}
	sig, err := c.parser.DecodeSegment(sigSeg)
	if err != nil {
		return nil, invalid(err)
	}
	if err := key.Method.Verify(raw[:len(headerSeg)+1+len(payloadSeg)], sig, key.Public); err != nil {
		return nil, invalid(err)
	}

	// The signature is valid: now the payload.
	payload, err := decodeSegment(payloadSeg)
	if err != nil {
		return nil, invalid(err)
	}
	var pm [12]member
	members, err = scanObject(payload, pm[:0])
	if err != nil {
		return nil, invalid(err)
	}
	p := &parsedClaims{}
	if err := p.decode(members, c.userIDClaim); err != nil {
		return nil, invalid(err)
	}
	if err := c.validator.Validate(p); err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return nil, tollgate.ErrTokenExpired
		}
		return nil, invalid(err)
	}
	if err := p.check(); err != nil {
		return nil, invalid(err)
	}
	if want != "" && p.Type != want {
		return nil, tollgate.ErrWrongTokenType
	}
	return &p.Claims, nil
}

// decodeSegment decodes one base64url segment, strictly (no padding, no
// non-zero trailing bits), into a string: the values Parse returns are
// substrings of it, so a payload costs one allocation however many claims
// it has.
func decodeSegment(seg string) (string, error) {
	enc := base64.RawURLEncoding.Strict()
	var buf [512]byte
	dst := buf[:]
	if n := enc.DecodedLen(len(seg)); n > len(buf) {
		dst = make([]byte, n)
	}
	n, err := enc.Decode(dst, []byte(seg))
	if err != nil {
		return "", err
	}
	return string(dst[:n]), nil
}

// invalid wraps the cause of a refusal under ErrTokenInvalid, so callers
// match it with errors.Is and the HTTP layer finds its *Error (code and
// client message) with errors.As; the cause is for logs only.
func invalid(cause error) error {
	return fmt.Errorf("%w: %w", tollgate.ErrTokenInvalid, cause)
}

var (
	errHeaderField = errors.New("token: a header field is not accepted (only alg, typ and kid are)")
	errHeaderTyp   = errors.New("token: typ must be JWT")
	errHeaderKid   = errors.New("token: kid must be a string")
	errHeaderAlg   = errors.New("token: alg is missing, not a string or not allowed")
)

// keyFor chooses the verification key from the header's members: it refuses
// header fields it does not understand (jwk, jku, x5u, x5c, crit, b64, ...),
// takes alg only from the configured allow-list, and looks the key up by
// kid and alg in the key set, so the token can never choose a key of
// another type (algorithm confusion).
func (c *Codec) keyFor(header []member) (*Key, error) {
	var alg, kid string
	hasAlg := false
	for _, m := range header {
		switch m.name {
		case "alg":
			s, err := stringValue(m.value)
			if err != nil {
				return nil, errHeaderAlg
			}
			alg, hasAlg = s, true
		case "typ":
			s, err := stringValue(m.value)
			if err != nil || !strings.EqualFold(s, "JWT") {
				return nil, errHeaderTyp
			}
		case "kid":
			s, err := stringValue(m.value)
			if err != nil {
				return nil, errHeaderKid
			}
			kid = s
		default:
			return nil, errHeaderField
		}
	}
	if !hasAlg || !slices.Contains(c.algs, alg) {
		return nil, errHeaderAlg
	}
	key, err := c.keys.VerificationKey(kid, alg)
	if err != nil {
		return nil, err
	}
	if key.Method == nil || key.Method.Alg() != alg {
		return nil, ErrUnknownKey
	}
	return key, nil
}
