// Package tokentest holds the corpus of hostile tokens that every path which
// accepts a Tollgate token must refuse: the token codec itself, and each
// HTTP endpoint (token/verify/, token/refresh/, logout/, protected
// resources), where each must answer 401 and never 500.
//
// The tokens are assembled from base64url segments and signed with the
// JOSE library's signing methods, so that each one is wrong in exactly one
// way. Wherever the attack allows it, a token is signed with the verifier's
// own private key: the refusal must then come from the check under test,
// not from a bad signature.
package tokentest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/tollgate/tollgate/token"
)

// Keys are the verifier's keys the corpus is built against.
type Keys struct {
	// RSA is the verifier's RS256 key, published under RSAKid.
	RSA    *rsa.PrivateKey
	RSAKid string
	// EC is the verifier's ES256 (P-256) key, published under ECKid.
	EC    *ecdsa.PrivateKey
	ECKid string
	// Dead are keys the verifier once trusted and no longer does (retired
	// or revoked), each with its kid and algorithm; may be empty.
	Dead []DeadKey
}

// DeadKey is a key whose tokens must fail: retired or revoked.
type DeadKey struct {
	Name    string // "retired", "revoked"
	Kid     string
	Method  jwt.SigningMethod
	Private crypto.Signer
}

// Case is one hostile token.
type Case struct {
	Name  string
	Token string
}

// Claims returns a payload that is valid at now in every respect: an access
// token for user "1", live for five minutes. Callers may change it (e.g.
// token_type "refresh" and a "sid") before building the corpus.
func Claims(now time.Time) map[string]any {
	return map[string]any{
		"token_type": "access",
		"jti":        "0123456789abcdef0123456789abcdef",
		"user_id":    "1",
		"iat":        now.Unix(),
		"exp":        now.Add(5 * time.Minute).Unix(),
	}
}

// B64 is base64url without padding, as JWS segments are encoded.
func B64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// Sign assembles header.payload (both raw JSON text, used verbatim) and
// signs the signing input with method and key.
func Sign(method jwt.SigningMethod, key any, header, payload string) string {
	input := B64([]byte(header)) + "." + B64([]byte(payload))
	sig, err := method.Sign(input, key)
	if err != nil {
		panic(fmt.Sprintf("tokentest: sign %s: %v", method.Alg(), err))
	}
	return input + "." + B64(sig)
}

// Valid returns a token the verifier must accept: claims signed with the
// RSA key. The corpus is only meaningful if this one verifies.
func Valid(k Keys, claims map[string]any) string {
	return Sign(jwt.SigningMethodRS256, k.RSA, rsHeader(k), mustJSON(claims))
}

// ValidEC is Valid for the EC key.
func ValidEC(k Keys, claims map[string]any) string {
	return Sign(jwt.SigningMethodES256, k.EC, `{"alg":"ES256","typ":"JWT","kid":`+mustJSON(k.ECKid)+`}`, mustJSON(claims))
}

func rsHeader(k Keys) string {
	return `{"alg":"RS256","typ":"JWT","kid":` + mustJSON(k.RSAKid) + `}`
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// with returns a copy of claims with key set to v (raw JSON text).
func with(claims map[string]any, key string, raw string) string {
	m := make(map[string]any, len(claims)+1)
	for k, v := range claims {
		m[k] = v
	}
	m[key] = json.RawMessage(raw)
	return mustJSON(m)
}

// Hostile returns the corpus, built against k with the given valid claims.
func Hostile(k Keys, claims map[string]any) []Case {
	payload := mustJSON(claims)
	rsKid := mustJSON(k.RSAKid)
	ecKid := mustJSON(k.ECKid)
	rs := func(header, p string) string { return Sign(jwt.SigningMethodRS256, k.RSA, header, p) }
	rsH := func(extra string) string { return `{"alg":"RS256","typ":"JWT","kid":` + rsKid + extra + `}` }
	valid := Valid(k, claims)
	validEC := ValidEC(k, claims)
	unsigned := func(header string) string {
		return B64([]byte(header)) + "." + B64([]byte(payload)) + "."
	}

	var cs []Case
	add := func(name, tok string) { cs = append(cs, Case{Name: name, Token: tok}) }

	// alg none, in any case, with and without a signature.
	for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
		add("alg "+alg, unsigned(`{"alg":"`+alg+`","typ":"JWT"}`))
		add("alg "+alg+" with kid", unsigned(`{"alg":"`+alg+`","typ":"JWT","kid":`+rsKid+`}`))
		add("alg "+alg+" with signature", unsigned(`{"alg":"`+alg+`","typ":"JWT"}`)+strings.SplitN(valid, ".", 3)[2])
	}
	add("alg missing", Sign(jwt.SigningMethodRS256, k.RSA, `{"typ":"JWT","kid":`+rsKid+`}`, payload))
	add("alg empty", unsigned(`{"alg":"","typ":"JWT"}`))
	add("alg not a string", unsigned(`{"alg":["RS256"],"typ":"JWT"}`))

	// Algorithm confusion: HS256 keyed with the public key's bytes.
	for _, pk := range []struct {
		name string
		kid  string
		pub  any
	}{{"RSA", rsKid, &k.RSA.PublicKey}, {"EC", ecKid, &k.EC.PublicKey}} {
		der, err := x509.MarshalPKIXPublicKey(pk.pub)
		if err != nil {
			panic(err)
		}
		pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		for _, secret := range []struct {
			name string
			b    []byte
		}{{"PEM", pemBytes}, {"DER", der}} {
			for _, alg := range []jwt.SigningMethod{jwt.SigningMethodHS256, jwt.SigningMethodHS512} {
				add(fmt.Sprintf("%s keyed with %s public key %s", alg.Alg(), pk.name, secret.name),
					Sign(alg, secret.b, `{"alg":"`+alg.Alg()+`","typ":"JWT","kid":`+pk.kid+`}`, payload))
				add(fmt.Sprintf("%s keyed with %s public key %s, no kid", alg.Alg(), pk.name, secret.name),
					Sign(alg, secret.b, `{"alg":"`+alg.Alg()+`","typ":"JWT"}`, payload))
			}
		}
	}
	// A key used with an algorithm that is not its own.
	add("RSA key signing PS256", Sign(jwt.SigningMethodPS256, k.RSA, `{"alg":"PS256","typ":"JWT","kid":`+rsKid+`}`, payload))
	add("RSA key signing RS512", Sign(jwt.SigningMethodRS512, k.RSA, `{"alg":"RS512","typ":"JWT","kid":`+rsKid+`}`, payload))
	add("RS256 under the EC kid", Sign(jwt.SigningMethodRS256, k.RSA, `{"alg":"RS256","typ":"JWT","kid":`+ecKid+`}`, payload))
	add("ES256 under the RSA kid", Sign(jwt.SigningMethodES256, k.EC, `{"alg":"ES256","typ":"JWT","kid":`+rsKid+`}`, payload))

	// ECDSA signatures that are zero (CVE-2022-21449 "psychic signatures").
	ecInput := strings.Join(strings.SplitN(validEC, ".", 3)[:2], ".")
	add("ECDSA r=s=0", ecInput+"."+B64(make([]byte, 64)))
	add("ECDSA r=s=0 short", ecInput+"."+B64(make([]byte, 2)))
	nBytes := k.EC.Curve.Params().N.FillBytes(make([]byte, 32))
	add("ECDSA r=s=n", ecInput+"."+B64(append(append([]byte(nil), nBytes...), nBytes...)))

	// Empty and truncated signatures.
	rsInput := strings.Join(strings.SplitN(valid, ".", 3)[:2], ".")
	rsSig := strings.SplitN(valid, ".", 3)[2]
	add("RS256 empty signature", rsInput+".")
	add("RS256 truncated signature", rsInput+"."+rsSig[:len(rsSig)-8])
	add("RS256 one byte of signature", rsInput+"."+rsSig[:2])
	ecSig := strings.SplitN(validEC, ".", 3)[2]
	add("ES256 empty signature", ecInput+".")
	add("ES256 truncated signature", ecInput+"."+ecSig[:len(ecSig)-4])
	add("signature of another token", rsInput[:len(rsInput)-4]+"AAAA."+rsSig)

	// Unknown and path-like kid, signed with the real key.
	for _, kid := range []string{"unknown", "", "../../../../etc/passwd", "/dev/null", "file:///etc/passwd",
		"' OR '1'='1", "%00", "http://attacker.example/k.pem", strings.Repeat("k", 600)} {
		add("kid "+truncate(kid), rs(`{"alg":"RS256","typ":"JWT","kid":`+mustJSON(kid)+`}`, payload))
	}
	add("kid not a string", rs(`{"alg":"RS256","typ":"JWT","kid":7}`, payload))
	add("kid null", rs(`{"alg":"RS256","typ":"JWT","kid":null}`, payload))

	// Embedded keys and key URLs: an attacker's own key, and the real key.
	attacker, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	jwk, err := jose.JSONWebKey{Key: &attacker.PublicKey, KeyID: k.RSAKid, Algorithm: "RS256", Use: "sig"}.MarshalJSON()
	if err != nil {
		panic(err)
	}
	add("embedded jwk of the attacker", Sign(jwt.SigningMethodRS256, attacker, rsH(`,"jwk":`+string(jwk)), payload))
	add("attacker key under the real kid", Sign(jwt.SigningMethodRS256, attacker, rsH(""), payload))
	realJWK, _ := jose.JSONWebKey{Key: &k.RSA.PublicKey, KeyID: k.RSAKid, Algorithm: "RS256", Use: "sig"}.MarshalJSON()
	add("embedded jwk, real key", rs(rsH(`,"jwk":`+string(realJWK)), payload))
	add("jku", rs(rsH(`,"jku":"https://attacker.example/jwks.json"`), payload))
	add("x5u", rs(rsH(`,"x5u":"https://attacker.example/cert.pem"`), payload))
	add("x5c", rs(rsH(`,"x5c":["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]`), payload))
	add("x5t", rs(rsH(`,"x5t":"dGVzdA"`), payload))

	// crit and b64 (RFC 7515 §4.1.11, RFC 7797).
	add("crit unknown extension", rs(rsH(`,"crit":["http://example.com/ext"],"http://example.com/ext":true`), payload))
	add("crit empty", rs(rsH(`,"crit":[]`), payload))
	add("crit exp", rs(rsH(`,"crit":["exp"],"exp":1`), payload))
	add("b64 false, encoded payload", rs(rsH(`,"b64":false,"crit":["b64"]`), payload))
	b64h := B64([]byte(rsH(`,"b64":false,"crit":["b64"]`)))
	detachedSig, _ := jwt.SigningMethodRS256.Sign(b64h+"."+payload, k.RSA)
	add("b64 false, raw payload", b64h+"."+payload+"."+B64(detachedSig))
	add("b64 false, detached payload", b64h+".."+B64(detachedSig))

	// typ other than JWT, header not an object.
	add("typ JWE", rs(`{"alg":"RS256","typ":"JWE","kid":`+rsKid+`}`, payload))
	add("typ not a string", rs(`{"alg":"RS256","typ":1,"kid":`+rsKid+`}`, payload))
	add("cty JWT (nested)", rs(rsH(`,"cty":"JWT"`), payload))
	add("header array", rs(`["RS256"]`, payload))
	add("payload array", rs(rsH(""), `[`+payload+`]`))
	add("payload null", rs(rsH(""), `null`))
	add("payload string", rs(rsH(""), `"x"`))
	add("payload trailing data", rs(rsH(""), payload+`{}`))
	add("header not JSON", rs(`{"alg":"RS256",`, payload))

	// A JWE (five parts) where a JWS is expected, made by the JOSE library
	// and encrypted to the verifier's own public key.
	enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.RSA_OAEP_256, Key: &k.RSA.PublicKey, KeyID: k.RSAKid},
		(&jose.EncrypterOptions{}).WithType("JWT"))
	if err != nil {
		panic(err)
	}
	jwe, err := enc.Encrypt([]byte(payload))
	if err != nil {
		panic(err)
	}
	jweCompact, err := jwe.CompactSerialize()
	if err != nil {
		panic(err)
	}
	add("JWE five parts", jweCompact)
	add("four parts", valid+".")
	add("two parts", rsInput)
	add("empty", "")
	add("dots only", "..")

	// Non-canonical base64 of a token that is otherwise valid.
	add("padding on signature", valid+"==")
	add("padding on header", strings.Replace(valid, ".", "=.", 1))
	add("non-zero trailing bits in signature", setTrailingBits(valid, 2))
	add("non-zero trailing bits in payload", setTrailingBits(valid, 1))
	add("newline in signature", valid[:len(valid)-10]+"\n"+valid[len(valid)-10:])
	add("CR LF in signature", valid[:len(valid)-10]+"\r\n"+valid[len(valid)-10:])
	add("space in token", " "+valid)
	add("standard alphabet", toStdAlphabet(k, claims))
	add("NUL after token", valid+"\x00")

	// Duplicate JSON keys, signed with the real key.
	add("duplicate user_id", rs(rsH(""), strings.TrimSuffix(payload, "}")+`,"user_id":"2"}`))
	add("duplicate token_type", rs(rsH(""), strings.TrimSuffix(payload, "}")+`,"token_type":"refresh"}`))
	add("duplicate exp", rs(rsH(""), strings.TrimSuffix(payload, "}")+`,"exp":99999999999}`))
	add("duplicate alg", rs(`{"alg":"none","alg":"RS256","typ":"JWT","kid":`+rsKid+`}`, payload))
	add("duplicate kid", rs(`{"alg":"RS256","typ":"JWT","kid":"x","kid":`+rsKid+`}`, payload))
	add("duplicate nested key", rs(rsH(""), with(claims, "ctx", `{"role":"user","role":"admin"}`)))
	add("duplicate key escaped", rs(rsH(""), strings.TrimSuffix(payload, "}")+`,"user\u005fid":"2"}`))
	// Names that encoding/json folds onto a registered claim (it ignores case
	// and folds the Kelvin sign to 'k', 'ſ' to 's'): a decoder into a struct
	// would let the second spelling overwrite the first.
	add("exp in another case", rs(rsH(""), strings.TrimSuffix(with(claims, "exp", fmt.Sprint(claims["iat"])), "}")+`,"EXP":99999999999}`))
	add("user_id in another case", rs(rsH(""), strings.TrimSuffix(payload, "}")+`,"User_Id":"2"}`))
	add("token_type with a Kelvin sign", rs(rsH(""), strings.TrimSuffix(payload, "}")+`,"to\u212Aen_type":"refresh"}`))

	// Oversized and deeply nested, signed with the real key.
	add("oversized", rs(rsH(""), with(claims, "pad", mustJSON(strings.Repeat("A", 16<<10)))))
	add("oversized header", rs(rsH(`,"pad":`+mustJSON(strings.Repeat("A", 16<<10))), payload))
	add("deeply nested array", rs(rsH(""), with(claims, "x", strings.Repeat("[", 500)+strings.Repeat("]", 500))))
	add("deeply nested object", rs(rsH(""), with(claims, "x", strings.Repeat(`{"a":`, 200)+"1"+strings.Repeat("}", 200))))
	add("deeply nested header", rs(rsH(`,"x":`+strings.Repeat("[", 200)+strings.Repeat("]", 200)), payload))

	// Numeric dates of the wrong JSON type, signed with the real key.
	for _, claim := range []string{"exp", "nbf", "iat"} {
		for _, v := range []string{`"` + fmt.Sprint(claims["exp"]) + `"`, `true`, `{}`, `[1]`, `"tomorrow"`, `1e999`, `-1e999`} {
			add(claim+" = "+v, rs(rsH(""), with(claims, claim, v)))
		}
	}
	add("exp null", rs(rsH(""), with(claims, "exp", `null`)))
	add("exp 0", rs(rsH(""), with(claims, "exp", `0`)))
	add("nbf in the future", rs(rsH(""), with(claims, "nbf", fmt.Sprint(claims["exp"]))))
	add("expired", rs(rsH(""), with(claims, "exp", fmt.Sprint(claims["iat"]))))

	// Required claims missing or mistyped.
	for _, claim := range []string{"exp", "jti", "token_type", "user_id"} {
		m := make(map[string]any, len(claims))
		for k, v := range claims {
			if k != claim {
				m[k] = v
			}
		}
		add("missing "+claim, rs(rsH(""), mustJSON(m)))
	}
	add("token_type unknown", rs(rsH(""), with(claims, "token_type", `"id"`)))
	add("user_id object", rs(rsH(""), with(claims, "user_id", `{"id":1}`)))
	add("user_id float", rs(rsH(""), with(claims, "user_id", `1.5`)))
	add("jti number", rs(rsH(""), with(claims, "jti", `1`)))

	for _, d := range k.Dead {
		add("signed by a "+d.Name+" key",
			Sign(d.Method, d.Private, `{"alg":"`+d.Method.Alg()+`","typ":"JWT","kid":`+mustJSON(d.Kid)+`}`, payload))
	}
	return cs
}

// setTrailingBits sets the unused low bits of the last character of
// segment i, which lax decoders ignore: same bytes, different string.
func setTrailingBits(tok string, i int) string {
	parts := strings.Split(tok, ".")
	seg := parts[i]
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var mask int
	switch len(seg) % 4 {
	case 2:
		mask = 0x0f
	case 3:
		mask = 0x03
	default:
		// No spare bits: append a byte-aligned change that still decodes
		// differently is impossible; pad with "=" instead.
		parts[i] = seg + "="
		return strings.Join(parts, ".")
	}
	last := strings.IndexByte(alphabet, seg[len(seg)-1])
	parts[i] = seg[:len(seg)-1] + string(alphabet[last|mask])
	return strings.Join(parts, ".")
}

// toStdAlphabet returns a valid token re-encoded with '+' and '/' for '-'
// and '_', choosing claims until the encoding contains one of them.
func toStdAlphabet(k Keys, claims map[string]any) string {
	for i := 0; i < 64; i++ {
		m := make(map[string]any, len(claims)+1)
		for k, v := range claims {
			m[k] = v
		}
		m["n"] = strings.Repeat("?>", i+1)
		tok := Valid(k, m)
		if strings.ContainsAny(tok, "-_") {
			return strings.NewReplacer("-", "+", "_", "/").Replace(tok)
		}
	}
	panic("tokentest: no token with - or _")
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// NewKeys generates an RSA 2048 and a P-256 key for a test verifier.
func NewKeys() (Keys, error) {
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return Keys{}, err
	}
	e, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Keys{}, err
	}
	return Keys{RSA: r, RSAKid: "rsa-1", EC: e, ECKid: "ec-1"}, nil
}

// Fixture returns fresh corpus keys, with a retired key (one the verifier
// no longer holds) in Dead, and the key set a verifier under test should
// hold: RS256 and ES256 under the corpus kids, and HS256 with hmacSecret
// (kid "hmac-1"), so the algorithm-confusion cases meet a parser that does
// accept HS256.
func Fixture(hmacSecret []byte) (Keys, *token.StaticKeySet, error) {
	k, err := NewKeys()
	if err != nil {
		return Keys{}, nil, err
	}
	old, err := NewKeys()
	if err != nil {
		return Keys{}, nil, err
	}
	k.Dead = []DeadKey{{Name: "retired", Kid: "rsa-0", Method: jwt.SigningMethodRS256, Private: old.RSA}}
	ks, err := token.NewStaticKeySet(
		&token.Key{ID: k.RSAKid, Method: jwt.SigningMethodRS256, Private: k.RSA, Public: &k.RSA.PublicKey},
		&token.Key{ID: k.ECKid, Method: jwt.SigningMethodES256, Private: k.EC, Public: &k.EC.PublicKey},
		&token.Key{ID: "hmac-1", Method: jwt.SigningMethodHS256, Private: hmacSecret, Public: hmacSecret},
	)
	if err != nil {
		return Keys{}, nil, err
	}
	return k, ks, nil
}
