// Package sigv4 verifies AWS Signature Version 4 (SigV4) signatures of
// incoming HTTP requests on the server side.
//
// It accepts both the header form (an "Authorization: AWS4-HMAC-SHA256 ..."
// header) and the presigned query form (X-Amz-Algorithm, X-Amz-Credential,
// X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders and X-Amz-Signature query
// parameters), canonicalising requests the way AWS clients do for a non-S3
// restJson1 service:
//
//   - the canonical URI is the path exactly as it was sent on the wire
//     (r.URL.EscapedPath(), never the decoded r.URL.Path) escaped once more,
//     so that a percent-encoded ARN in one path segment is double encoded
//     (the AWS SDKs, botocore, curl 8); or that path exactly as sent, which is
//     what curl 7's --aws-sigv4 signs (Debian 12's curl 7.88);
//   - the canonical query string holds every query parameter (minus
//     X-Amz-Signature in the presigned form), RFC 3986 encoded and sorted by
//     key, then value;
//   - the canonical headers are the headers named in SignedHeaders, lowercased,
//     with trimmed values, sequential spaces collapsed and repeated values
//     joined with ','; the host header is taken from r.Host;
//   - the payload hash is the x-amz-content-sha256 header when present
//     (UNSIGNED-PAYLOAD is honoured) and the hex SHA-256 of the body otherwise.
//
// Clients disagree on two corner cases of canonicalisation: the AWS SDK for
// Go v1 sorts repeated query values before encoding them (the specification
// and botocore sort the encoded values), and botocore collapses every kind of
// whitespace in header values (the others only collapse spaces). When a
// request is affected, both canonical forms are tried; they cover exactly the
// same request data, so accepting either never lets unsigned data through.
// The two path forms are both one-to-one functions of the path as sent, so
// a signature still binds the path. The one other path a captured signature
// can be replayed on is the double-encoded form sent literally: that path
// decodes to the original's escaped text, the same resource when the
// original had no '%' (only characters such as ':' escaped) and otherwise a
// name containing a literal '%', which no fleetsync ARN or name may hold.
// The path is not normalised: dot segments and empty segments are signed as
// sent, as the AWS SDKs do for paths they build.
//
// Every verification failure is reported as an *Error whose Code is the AWS
// error code the server must answer with.
package sigv4

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	algorithm       = "AWS4-HMAC-SHA256"
	amzDateLayout   = "20060102T150405Z"
	scopeDateLayout = "20060102"
	scopeTerminator = "aws4_request"
	unsignedPayload = "UNSIGNED-PAYLOAD"

	defaultMaxSkew = 15 * time.Minute
	// maxPresignExpires is the longest X-Amz-Expires AWS accepts: one week.
	maxPresignExpires = 604800

	codeMissingToken        = "MissingAuthenticationTokenException"
	codeIncompleteSignature = "IncompleteSignatureException"
	codeUnrecognizedClient  = "UnrecognizedClientException"
	codeInvalidSignature    = "InvalidSignatureException"

	msgMissingToken      = "Missing Authentication Token"
	msgUnrecognized      = "The security token included in the request is invalid."
	msgSignatureMismatch = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgContentSHA256Mismatch = "The provided 'x-amz-content-sha256' header does not match what was computed."
	msgHostNotSigned         = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
)

// Lookup returns the secret access key of an access key id; ok=false when the
// key is unknown or revoked. A non-nil err is an internal failure (for
// example the credential store being unavailable), not a verdict on the key.
type Lookup func(ctx context.Context, accessKeyID string) (secret string, ok bool, err error)

// Verifier checks SigV4 signatures of incoming requests.
//
// A Verifier is safe for concurrent use as long as its fields are not changed
// and its Lookup and Now functions are themselves safe for concurrent use.
type Verifier struct {
	// Service is the signing name the credential scope must name, "robomaker".
	Service string
	// Region is the region the credential scope must name, e.g. "us-east-1".
	Region string
	// Lookup resolves access key ids to secret access keys.
	Lookup Lookup
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// MaxSkew is the largest accepted difference between X-Amz-Date and Now;
	// zero (or negative) means 15 minutes.
	MaxSkew time.Duration
}

// Error is a verification failure carrying the AWS error code the server must
// answer with. IncompleteSignatureException is answered with HTTP 400, every
// other code with HTTP 403.
type Error struct {
	// Code is the AWS error code, e.g. "InvalidSignatureException".
	Code string
	// Message is the human-readable message sent to the client.
	Message string
}

// Error returns the code and the message, separated by ": ".
func (e *Error) Error() string {
	return e.Code + ": " + e.Message
}

func newError(code, format string, args ...any) *Error {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &Error{Code: code, Message: msg}
}

func incomplete(format string, args ...any) *Error {
	return newError(codeIncompleteSignature, format, args...)
}

func invalid(format string, args ...any) *Error {
	return newError(codeInvalidSignature, format, args...)
}

// queryPair is one decoded query parameter.
type queryPair struct {
	key, value string
}

// authInfo is what the Authorization header or the presign query parameters
// carry.
type authInfo struct {
	presign      bool
	accessKeyID  string
	scope        []string // date, region, service, terminator
	signedRaw    string   // SignedHeaders exactly as sent
	signedNames  []string // SignedHeaders split on ';'
	signature    string
	amzDate      string
	date         time.Time
	expires      int64 // presign form only
	canonicalQry []queryPair
}

// Verify checks r (header form: Authorization: AWS4-HMAC-SHA256 ...; or
// presigned query form X-Amz-Algorithm/X-Amz-Credential/X-Amz-Date/
// X-Amz-Expires/X-Amz-SignedHeaders/X-Amz-Signature).
// body is the full request body already read by the caller (r.Body must not
// be read by Verify).
// It returns the access key id that signed the request.
//
// A failed verification returns an *Error. Any other error (a failing
// Lookup, a Verifier without Lookup, a nil request) is an internal failure.
func (v *Verifier) Verify(r *http.Request, body []byte) (accessKeyID string, err error) {
	if r == nil || r.URL == nil {
		return "", errors.New("sigv4: nil request")
	}
	if v.Lookup == nil {
		return "", errors.New("sigv4: Verifier.Lookup is nil")
	}

	pairs, queryErr := parseQuery(r.URL.RawQuery)
	authValues := r.Header.Values("Authorization")
	_, hasAlgorithm := lookupQuery(pairs, "X-Amz-Algorithm")

	var info *authInfo
	var aerr *Error
	switch {
	case len(authValues) == 0 && !hasAlgorithm:
		return "", newError(codeMissingToken, msgMissingToken)
	case len(authValues) > 0 && hasAlgorithm:
		return "", incomplete("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter " +
			"or the Authorization header should be specified.")
	case len(authValues) > 1:
		return "", incomplete("Only one Authorization header is allowed.")
	case hasAlgorithm:
		info, aerr = parsePresign(pairs)
	default:
		info, aerr = parseAuthorization(authValues[0], r.Header.Values("X-Amz-Date"))
		if aerr == nil {
			info.canonicalQry = pairs
		}
	}
	if aerr != nil {
		return "", aerr
	}

	if aerr := v.checkScope(info); aerr != nil {
		return "", aerr
	}
	if aerr := v.checkTime(info); aerr != nil {
		return "", aerr
	}

	if info.accessKeyID == "" {
		return "", newError(codeUnrecognizedClient, msgUnrecognized)
	}
	secret, ok, err := v.Lookup(r.Context(), info.accessKeyID)
	if err != nil {
		return "", fmt.Errorf("sigv4: looking up access key: %w", err)
	}
	if !ok {
		return "", newError(codeUnrecognizedClient, msgUnrecognized)
	}

	bodyHash := sha256Hex(body)
	payloadHash := bodyHash
	contentHash := r.Header.Get("X-Amz-Content-Sha256")
	if contentHash != "" {
		payloadHash = contentHash
	}

	provided, decErr := hex.DecodeString(info.signature)
	if queryErr != nil || decErr != nil || len(provided) != sha256.Size {
		return "", invalid(msgSignatureMismatch)
	}

	key := signingKey(secret, info.scope)
	scope := strings.Join(info.scope, "/")
	matched := false
	for _, uri := range canonicalURIs(r.URL) {
		for _, query := range canonicalQueries(info.canonicalQry) {
			for _, headers := range canonicalHeaderBlocks(r, info.signedNames, len(body)) {
				canonical := strings.Join([]string{
					r.Method,
					uri,
					query,
					headers,
					info.signedRaw,
					payloadHash,
				}, "\n")
				stringToSign := algorithm + "\n" + info.amzDate + "\n" + scope + "\n" + sha256Hex([]byte(canonical))
				if hmac.Equal(hmacSHA256(key, []byte(stringToSign)), provided) {
					matched = true
				}
			}
		}
	}
	if !matched {
		return "", invalid(msgSignatureMismatch)
	}

	if contentHash != "" && contentHash != unsignedPayload && !strings.EqualFold(contentHash, bodyHash) {
		return "", invalid(msgContentSHA256Mismatch)
	}
	return info.accessKeyID, nil
}

// parseAuthorization parses the header form. dates are the X-Amz-Date header
// values.
func parseAuthorization(header string, dates []string) (*authInfo, *Error) {
	alg, rest, _ := strings.Cut(strings.TrimLeft(header, " \t"), " ")
	if alg != algorithm {
		if alg == "" {
			return nil, incomplete("Authorization header is empty; it must use the '%s' algorithm.", algorithm)
		}
		return nil, incomplete("Unsupported Authorization Type '%s'; the Authorization header must use the '%s' algorithm.",
			truncate(alg), algorithm)
	}

	params := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		part = strings.Trim(part, " \t")
		if part == "" {
			continue
		}
		k, val, ok := strings.Cut(part, "=")
		if !ok {
			return nil, incomplete("'%s' not a valid key=value pair (missing equal-sign) in Authorization header.", truncate(part))
		}
		switch k {
		case "Credential", "SignedHeaders", "Signature":
			if _, dup := params[k]; dup {
				return nil, incomplete("Authorization header contains the '%s' parameter more than once.", k)
			}
			params[k] = val
		}
	}

	var missing []string
	for _, k := range []string{"Credential", "Signature", "SignedHeaders"} {
		if params[k] == "" {
			missing = append(missing, fmt.Sprintf("Authorization header requires '%s' parameter.", k))
		}
	}
	if len(dates) == 0 || dates[0] == "" {
		missing = append(missing, "Authorization header requires existence of a 'X-Amz-Date' header.")
	}
	if len(missing) > 0 {
		return nil, incomplete("%s", strings.Join(missing, " "))
	}

	info := &authInfo{signature: params["Signature"], amzDate: dates[0]}
	if err := info.setCredential(params["Credential"]); err != nil {
		return nil, err
	}
	if err := info.setSignedHeaders(params["SignedHeaders"]); err != nil {
		return nil, err
	}
	if err := info.setDate(); err != nil {
		return nil, err
	}
	return info, nil
}

// parsePresign parses the presigned query form.
func parsePresign(pairs []queryPair) (*authInfo, *Error) {
	names := []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"}
	vals := map[string]string{}
	var missing []string
	for _, name := range names {
		n := 0
		for _, p := range pairs {
			if p.key == name {
				n++
				vals[name] = p.value
			}
		}
		if n > 1 {
			return nil, incomplete("AWS query-string parameter '%s' must not be repeated.", name)
		}
		if vals[name] == "" {
			missing = append(missing, fmt.Sprintf("AWS query-string parameters must include '%s'.", name))
		}
	}
	if len(missing) > 0 {
		return nil, incomplete("%s Re-examine the query-string parameters.", strings.Join(missing, " "))
	}
	if vals["X-Amz-Algorithm"] != algorithm {
		return nil, incomplete("X-Amz-Algorithm only supports '%s', not '%s'.", algorithm, truncate(vals["X-Amz-Algorithm"]))
	}
	expires, err := strconv.ParseInt(vals["X-Amz-Expires"], 10, 64)
	if err != nil || expires < 0 {
		return nil, incomplete("X-Amz-Expires should be a non-negative number of seconds, not '%s'.", truncate(vals["X-Amz-Expires"]))
	}

	info := &authInfo{
		presign:   true,
		signature: vals["X-Amz-Signature"],
		amzDate:   vals["X-Amz-Date"],
		expires:   expires,
	}
	if err := info.setCredential(vals["X-Amz-Credential"]); err != nil {
		return nil, err
	}
	if err := info.setSignedHeaders(vals["X-Amz-SignedHeaders"]); err != nil {
		return nil, err
	}
	if err := info.setDate(); err != nil {
		return nil, err
	}
	for _, p := range pairs {
		if p.key != "X-Amz-Signature" {
			info.canonicalQry = append(info.canonicalQry, p)
		}
	}
	return info, nil
}

func (info *authInfo) setCredential(cred string) *Error {
	parts := strings.Split(cred, "/")
	if len(parts) != 5 {
		return incomplete("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'.",
			truncate(cred))
	}
	info.accessKeyID = parts[0]
	info.scope = parts[1:]
	return nil
}

func (info *authInfo) setSignedHeaders(raw string) *Error {
	names := strings.Split(raw, ";")
	hasHost := false
	for _, n := range names {
		if n == "" {
			return incomplete("SignedHeaders must be a ';'-separated list of header names without empty entries, got '%s'.",
				truncate(raw))
		}
		if strings.EqualFold(n, "host") {
			hasHost = true
		}
	}
	if !hasHost {
		return incomplete(msgHostNotSigned)
	}
	info.signedRaw = raw
	info.signedNames = names
	return nil
}

func (info *authInfo) setDate() *Error {
	t, err := time.Parse(amzDateLayout, info.amzDate)
	if err != nil || t.Format(amzDateLayout) != info.amzDate {
		return incomplete("Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601",
			truncate(info.amzDate))
	}
	info.date = t
	return nil
}

// checkScope compares the credential scope with the verifier's configuration
// and the request date.
func (v *Verifier) checkScope(info *authInfo) *Error {
	date, region, service, term := info.scope[0], info.scope[1], info.scope[2], info.scope[3]
	if want := info.amzDate[:8]; date != want {
		return invalid("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.",
			truncate(date), want, info.amzDate)
	}
	if region != v.Region {
		return invalid("Credential should be scoped to a valid region, not '%s'. Expected '%s'.", truncate(region), v.Region)
	}
	if service != v.Service {
		return invalid("Credential should be scoped to correct service: '%s', not '%s'.", v.Service, truncate(service))
	}
	if term != scopeTerminator {
		return invalid("Credential should be scoped with a valid terminator: '%s', not '%s'.", scopeTerminator, truncate(term))
	}
	return nil
}

// checkTime enforces MaxSkew (both forms) and X-Amz-Expires (presign form).
func (v *Verifier) checkTime(info *authInfo) *Error {
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	now = now.UTC()
	skew := v.MaxSkew
	if skew <= 0 {
		skew = defaultMaxSkew
	}
	nowStr := now.Format(amzDateLayout)

	if earliest := now.Add(-skew); !info.presign && info.date.Before(earliest) {
		return invalid("Signature expired: %s is now earlier than %s (%s - %s.)",
			info.amzDate, earliest.Format(amzDateLayout), nowStr, formatSkew(skew))
	}
	if latest := now.Add(skew); info.date.After(latest) {
		return invalid("Signature not yet current: %s is still later than %s (%s + %s.)",
			info.amzDate, latest.Format(amzDateLayout), nowStr, formatSkew(skew))
	}
	if info.presign {
		if info.expires > maxPresignExpires {
			return invalid("Request has expired: X-Amz-Expires must be less than a week (in seconds) that is %d, not %d.",
				maxPresignExpires, info.expires)
		}
		if end := info.date.Add(time.Duration(info.expires) * time.Second); now.After(end) {
			return invalid("Signature expired: %s is now earlier than %s (%s + %d sec.). Request has expired.",
				end.Format(amzDateLayout), nowStr, info.amzDate, info.expires)
		}
	}
	return nil
}

func formatSkew(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.FormatInt(int64(d/time.Minute), 10) + " min"
	}
	return d.String()
}

// parseQuery splits a raw query string into decoded pairs, keeping their
// order. Empty segments are skipped. A segment that is not validly escaped
// makes err non-nil (such a request can never verify) but parsing goes on.
func parseQuery(raw string) (pairs []queryPair, err error) {
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		k, val, _ := strings.Cut(part, "=")
		dk, err1 := url.QueryUnescape(k)
		dv, err2 := url.QueryUnescape(val)
		if err1 != nil || err2 != nil {
			if err == nil {
				err = errors.New("sigv4: malformed query string")
			}
			continue
		}
		pairs = append(pairs, queryPair{dk, dv})
	}
	return pairs, err
}

func lookupQuery(pairs []queryPair, key string) (string, bool) {
	for _, p := range pairs {
		if p.key == key {
			return p.value, true
		}
	}
	return "", false
}

// canonicalQueries returns the canonical query string as the SigV4
// specification and botocore build it (sorted by encoded key, then encoded
// value) and, when different, as the AWS SDK for Go v1 builds it (sorted by
// decoded key, then decoded value, then encoded).
func canonicalQueries(pairs []queryPair) []string {
	type enc struct{ raw, k, v string }
	list := make([]enc, len(pairs))
	for i, p := range pairs {
		list[i] = enc{raw: p.key + "\x00" + p.value, k: uriEncode(p.key, true), v: uriEncode(p.value, true)}
	}
	join := func() string {
		var b strings.Builder
		for i, e := range list {
			if i > 0 {
				b.WriteByte('&')
			}
			b.WriteString(e.k)
			b.WriteByte('=')
			b.WriteString(e.v)
		}
		return b.String()
	}
	sort.SliceStable(list, func(i, j int) bool {
		if list[i].k != list[j].k {
			return list[i].k < list[j].k
		}
		return list[i].v < list[j].v
	})
	spec := join()
	sort.SliceStable(list, func(i, j int) bool {
		ki, _, _ := strings.Cut(list[i].raw, "\x00")
		kj, _, _ := strings.Cut(list[j].raw, "\x00")
		if ki != kj {
			return ki < kj
		}
		return list[i].raw < list[j].raw
	})
	return distinct(spec, join())
}

// canonicalURIs returns the canonical URI forms a client may have signed:
// the path as sent on the wire escaped once more (the double encoding the
// AWS SDKs use for non-S3 services) and, when different, the path exactly
// as sent (curl 7's --aws-sigv4, which does not encode it again).
func canonicalURIs(u *url.URL) []string {
	p := u.EscapedPath()
	if u.Opaque != "" {
		// Mirrors the Go SDK: an opaque "//host/path" keeps what follows the host.
		p = u.Opaque
		if parts := strings.Split(p, "/"); strings.HasPrefix(p, "//") && len(parts) >= 3 {
			p = "/" + strings.Join(parts[3:], "/")
		}
	}
	if p == "" {
		p = "/"
	}
	return distinct(uriEncode(p, false), p)
}

// canonicalHeaderBlocks returns the canonical headers block (every line
// terminated by '\n') with values trimmed and runs of spaces collapsed (the
// SigV4 specification, the AWS SDKs) and, when different, with runs of any
// whitespace collapsed (botocore).
func canonicalHeaderBlocks(r *http.Request, names []string, bodyLen int) []string {
	var spec, boto strings.Builder
	for _, name := range names {
		lname := strings.ToLower(name)
		var values []string
		switch lname {
		case "host":
			host := r.Host
			if host == "" {
				host = r.URL.Host
			}
			values = []string{host}
		default:
			values = r.Header.Values(name)
			if len(values) == 0 && lname == "content-length" {
				values = []string{strconv.Itoa(bodyLen)}
			}
		}
		specVals := make([]string, len(values))
		botoVals := make([]string, len(values))
		for i, val := range values {
			specVals[i] = collapseSpaces(strings.TrimSpace(val))
			botoVals[i] = strings.Join(strings.Fields(val), " ")
		}
		spec.WriteString(lname + ":" + strings.Join(specVals, ",") + "\n")
		boto.WriteString(lname + ":" + strings.Join(botoVals, ",") + "\n")
	}
	return distinct(spec.String(), boto.String())
}

func collapseSpaces(s string) string {
	if !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	prevSpace := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' && prevSpace {
			continue
		}
		prevSpace = c == ' '
		b.WriteByte(c)
	}
	return b.String()
}

// uriEncode percent-encodes every byte except the RFC 3986 unreserved
// characters (and '/' unless encodeSlash), with upper-case hex digits.
func uriEncode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || (c == '/' && !encodeSlash) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

func distinct(a, b string) []string {
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}

func signingKey(secret string, scope []string) []byte {
	k := []byte("AWS4" + secret)
	for _, s := range scope {
		k = hmacSHA256(k, []byte(s))
	}
	return k
}

func hmacSHA256(key, data []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(data)
	return h.Sum(nil)
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// truncate bounds client-supplied text echoed in error messages.
func truncate(s string) string {
	const limit = 256
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "..."
}

// ClaimedKeyID returns the access key id a request claims (the Credential of
// its Authorization header or its X-Amz-Credential query parameter), without
// verifying anything: what failed-authentication budgets are kept under
// before the signature is checked. "" when it claims none.
func ClaimedKeyID(r *http.Request) string {
	cred := ""
	if h := r.Header.Get("Authorization"); h != "" {
		if _, after, ok := strings.Cut(h, "Credential="); ok {
			cred, _, _ = strings.Cut(after, ",")
		}
	} else if pairs, err := parseQuery(r.URL.RawQuery); err == nil {
		cred, _ = lookupQuery(pairs, "X-Amz-Credential")
	}
	id, _, _ := strings.Cut(strings.TrimSpace(cred), "/")
	return truncate(id)
}
