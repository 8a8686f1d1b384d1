// Package token mints and parses Tollgate's JWTs (compact JWS) over
// github.com/golang-jwt/jwt/v5. It is the only package that touches the JOSE
// library; everything else sees tollgate.Claims.
//
// Parsing is golang-jwt's (jwt.Parser.ParseWithClaims) and strict by default:
// the algorithm allow-list comes from the Codec's configuration, never from
// the token; exp, jti and token_type are required; only the header fields
// alg, typ and kid are accepted (so embedded jwk/jku/x5u/x5c, crit and b64 are
// refused); base64 must be canonical; the token size and its bytes are
// checked before any decoding; duplicate JSON names and deep nesting are
// refused once the signature has verified.
package token

import (
	"errors"
	"fmt"
	"maps"
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
	// CacheSize is how many verified tokens Parse remembers (see
	// verifiedCache); 0 means DefaultCacheSize, a negative value turns the
	// cache off.
	CacheSize int
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
	keyfunc     jwt.Keyfunc // c.keyFor, made once: a method value allocates
	headers     headerCache
	leeway      time.Duration
	cache       *verifiedCache // nil when off
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
		leeway:      cfg.Leeway,
		cache:       newVerifiedCache(cfg.CacheSize),
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
		jwt.WithValidMethods(c.algs),
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
	c.keyfunc = c.keyFor
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
// The order is the cost of a refusal. The size bound and the byte check
// come first. Then golang-jwt's parser does the JWS: it splits the token,
// decodes its base64 strictly, decodes the header and the payload (into
// typed claims: encoding/json into a struct, no map), refuses an algorithm
// outside the allow-list, asks keyFor for the key (header allow-list, key by
// kid and alg), verifies the signature and validates exp, nbf, iss and aud.
// Only then, on a token signed by one of our keys, is the payload (and a
// header not seen before) walked for duplicate names and depth, and decoded
// into a map when it carries claims the struct does not hold.
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
	if cl, hit, err := c.fromCache(raw, want); hit {
		return cl, err
	}
	p := &parsedClaims{}
	tok, err := c.parser.ParseWithClaims(raw, p, c.keyfunc)
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return nil, tollgate.ErrTokenExpired
		}
		return nil, invalid(err)
	}

	// The signature is valid: now what encoding/json's decoding let pass.
	headerSeg, rest, _ := strings.Cut(raw, ".")
	payloadSeg, _, _ := strings.Cut(rest, ".")
	if !c.headers.has(headerSeg) {
		header, err := c.parser.DecodeSegment(headerSeg)
		if err != nil {
			return nil, invalid(err)
		}
		if _, err := checkJSON(header, nil); err != nil {
			return nil, invalid(err)
		}
		c.headers.add(headerSeg)
	}
	payload, err := c.parser.DecodeSegment(payloadSeg)
	if err != nil {
		return nil, invalid(err)
	}
	var buf [16]string
	names, err := checkJSON(payload, buf[:0])
	if err != nil {
		return nil, invalid(err)
	}
	if err := p.finish(payload, names, c.userIDClaim); err != nil {
		return nil, invalid(err)
	}
	c.remember(raw, tok, p)
	if want != "" && p.out.Type != want {
		return nil, tollgate.ErrWrongTokenType
	}
	return &p.out, nil
}

// remember caches a token that passed every check, with what fromCache
// needs to re-check it: the key it verified with, exp (in the claims) and
// nbf.
func (c *Codec) remember(raw string, tok *jwt.Token, p *parsedClaims) {
	if c.cache == nil {
		return
	}
	kid, _ := tok.Header["kid"].(string)
	key, err := c.keys.VerificationKey(kid, tok.Method.Alg())
	if err != nil {
		return
	}
	v := &verifiedToken{claims: p.out, kid: kid, alg: tok.Method.Alg(), key: key}
	if nbf := p.NotBefore.get(); nbf != nil {
		v.notBefore = nbf.Time
	}
	if v.claims.Extra != nil {
		v.claims.Extra = maps.Clone(v.claims.Extra)
	}
	c.cache.put(raw, v)
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
	errHeaderField = errors.New("token: a header field is not accepted (only alg, typ and kid are)")
	errHeaderTyp   = errors.New("token: typ must be JWT")
	errHeaderKid   = errors.New("token: kid must be a string")
)

// keyFor is the jwt.Keyfunc. golang-jwt has already refused an alg outside
// the allow-list (jwt.WithValidMethods); keyFor refuses header fields other
// than alg, typ and kid (so embedded keys and key URLs, crit and b64 are
// never half-understood), then takes the key by kid and alg from the key
// set, so a token can never choose a key of another type (algorithm
// confusion). The token is verified with the key's own signing method.
func (c *Codec) keyFor(t *jwt.Token) (any, error) {
	for name := range t.Header {
		if name != "alg" && name != "typ" && name != "kid" {
			return nil, errHeaderField
		}
	}
	if v, ok := t.Header["typ"]; ok {
		typ, isString := v.(string)
		if !isString || !strings.EqualFold(typ, "JWT") {
			return nil, errHeaderTyp
		}
	}
	kid := ""
	if v, ok := t.Header["kid"]; ok {
		s, isString := v.(string)
		if !isString {
			return nil, errHeaderKid
		}
		kid = s
	}
	alg := t.Method.Alg()
	key, err := c.keys.VerificationKey(kid, alg)
	if err != nil {
		return nil, err
	}
	if key.Method == nil || key.Method.Alg() != alg {
		return nil, ErrUnknownKey
	}
	t.Method = key.Method
	return key.Public, nil
}

// maxCachedHeaders bounds the header cache. A deployment has one header
// per key (alg and kid), and a few keys at a time.
const maxCachedHeaders = 16

// headerCache remembers the header segments of tokens whose signature
// verified and whose header passed checkJSON: every token signed by one key
// carries the same header, so its duplicate and depth walk runs once rather
// than on every request (golang-jwt still decodes it each time). Only a
// token signed by one of our keys adds an entry, so forgeries cannot fill
// it; when it is full it starts again. Readers never lock: the map is
// replaced, never changed.
type headerCache struct {
	m atomic.Pointer[map[string]struct{}]
}

func (hc *headerCache) has(seg string) bool {
	m := hc.m.Load()
	if m == nil {
		return false
	}
	_, ok := (*m)[seg]
	return ok
}

func (hc *headerCache) add(seg string) {
	old := hc.m.Load()
	next := make(map[string]struct{}, maxCachedHeaders)
	if old != nil && len(*old) < maxCachedHeaders {
		for k := range *old {
			next[k] = struct{}{}
		}
	}
	next[seg] = struct{}{}
	hc.m.Store(&next) // a concurrent add may be lost; it is only a cache
}
