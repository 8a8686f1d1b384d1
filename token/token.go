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
	"sync/atomic"
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
	headers     headerCache
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
	if raw == "" || len(raw) > c.maxSize {
		return nil, tollgate.ErrTokenInvalid
	}
	dots, err := checkCharset(raw)
	if err != nil {
		return nil, errCharset
	}
	if dots != 2 {
		return nil, tollgate.ErrTokenInvalid
	}
	headerSeg, rest, _ := strings.Cut(raw, ".")
	payloadSeg, sigSeg, _ := strings.Cut(rest, ".")
	h, cached := c.headers.get(headerSeg)
	if !cached {
		if h, err = readHeader(headerSeg); err != nil {
			return nil, invalid(err)
		}
	}
	key, err := c.keyFor(h)
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
	if !cached {
		c.headers.put(headerSeg, h)
	}

	// The signature is valid: now the payload.
	payload, err := decodeSegment(payloadSeg)
	if err != nil {
		return nil, invalid(err)
	}
	var pm [12]member
	members, err := scanObject(payload, pm[:0])
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

// errCharset is the refusal of a token with a byte outside base64url and
// '.', made once: the check runs on every request.
var errCharset = invalid(errBadCharset)

var (
	errHeaderField   = errors.New("token: a header field is not accepted (only alg, typ and kid are)")
	errHeaderTyp     = errors.New("token: typ must be JWT")
	errHeaderKid     = errors.New("token: kid must be a string")
	errHeaderAlg     = errors.New("token: alg is missing or not a string")
	errAlgNotAllowed = errors.New("token: alg is not allowed")
)

// jwsHeader is what Tollgate reads from a JOSE header.
type jwsHeader struct {
	alg, kid string
}

// readHeader decodes and checks a header segment: one JSON object (no
// duplicate names, bounded depth) with only the fields alg, typ and kid, so
// embedded keys and key URLs (jwk, jku, x5u, x5c), crit and b64 are refused.
func readHeader(seg string) (jwsHeader, error) {
	var h jwsHeader
	text, err := decodeSegment(seg)
	if err != nil {
		return h, err
	}
	var buf [4]member
	members, err := scanObject(text, buf[:0])
	if err != nil {
		return h, err
	}
	hasAlg := false
	for _, m := range members {
		switch m.name {
		case "alg":
			if h.alg, err = stringValue(m.value); err != nil {
				return h, errHeaderAlg
			}
			hasAlg = true
		case "typ":
			typ, err := stringValue(m.value)
			if err != nil || !strings.EqualFold(typ, "JWT") {
				return h, errHeaderTyp
			}
		case "kid":
			if h.kid, err = stringValue(m.value); err != nil {
				return h, errHeaderKid
			}
		default:
			return h, errHeaderField
		}
	}
	if !hasAlg {
		return h, errHeaderAlg
	}
	return h, nil
}

// keyFor chooses the verification key: alg only from the configured
// allow-list, and the key by kid and alg from the key set, so the token can
// never choose a key of another type (algorithm confusion).
func (c *Codec) keyFor(h jwsHeader) (*Key, error) {
	if !slices.Contains(c.algs, h.alg) {
		return nil, errAlgNotAllowed
	}
	key, err := c.keys.VerificationKey(h.kid, h.alg)
	if err != nil {
		return nil, err
	}
	if key.Method == nil || key.Method.Alg() != h.alg {
		return nil, ErrUnknownKey
	}
	return key, nil
}

// maxCachedHeaders bounds the header cache. A deployment has one header
// per key (alg and kid), and a few keys at a time.
const maxCachedHeaders = 16

// headerCache remembers the headers of tokens whose signature verified,
// by their segment text: every token signed by one key carries the same
// header, so it is decoded once rather than on every request. Only a token
// signed by one of our keys adds an entry, so forgeries cannot fill it; when
// it is full it starts again. Readers never lock: the map is replaced, never
// changed.
type headerCache struct {
	m atomic.Pointer[map[string]jwsHeader]
}

func (hc *headerCache) get(seg string) (jwsHeader, bool) {
	m := hc.m.Load()
	if m == nil {
		return jwsHeader{}, false
	}
	h, ok := (*m)[seg]
	return h, ok
}

func (hc *headerCache) put(seg string, h jwsHeader) {
	old := hc.m.Load()
	next := make(map[string]jwsHeader, maxCachedHeaders)
	if old != nil && len(*old) < maxCachedHeaders {
		for k, v := range *old {
			next[k] = v
		}
	}
	next[seg] = h
	hc.m.Store(&next) // a concurrent put may be lost; it is only a cache
}
