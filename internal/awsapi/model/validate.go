package model

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrUnknownOperation is returned (wrapped) by Validate for an operation the
// model does not define.
var ErrUnknownOperation = errors.New("model: unknown operation")

// ValidationError lists every constraint violation of one request.
type ValidationError struct {
	Violations []Violation
}

// Violation is one failed constraint.
type Violation struct {
	Path    string // member path, "deploymentApplicationConfigs.1.member.launchConfig.packageName"
	Message string // the full "Value ... at ... failed to satisfy constraint: ..." clause
}

// Error returns AWS's validation message: "1 validation error detected: "
// (or "N validation errors detected: ") followed by the violation messages
// joined by "; ".
func (e *ValidationError) Error() string {
	var b strings.Builder
	if n := len(e.Violations); n == 1 {
		b.WriteString("1 validation error detected: ")
	} else {
		fmt.Fprintf(&b, "%d validation errors detected: ", n)
	}
	for i, v := range e.Violations {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(v.Message)
	}
	return b.String()
}

// Validate checks input (the operation's whole input: the JSON body decoded
// with json.Decoder.UseNumber into map[string]any, plus any URI/query members
// the caller added under their model member names, e.g. "resourceArn",
// "tagKeys" as []any of strings) against the operation's input shape.
// It returns nil or a *ValidationError listing every violation. An
// operation the model does not define yields an error wrapping
// ErrUnknownOperation.
//
// Accepted Go values: string, bool, json.Number, Go integer and float
// types, []any, []string, map[string]any, map[string]string, and for
// timestamps also time.Time; JSON null (nil) counts as an absent member.
// Members the model does not define are ignored, as AWS does.
//
// Paths and messages follow AWS's wording:
//
//   - structure members are joined with '.': "deploymentConfig.concurrentDeploymentPercentage";
//   - list elements are "LIST.N.member", N counting from 1:
//     "deploymentApplicationConfigs.1.member.launchConfig.packageName";
//   - a map value is "MAP.KEY" ("tags.Owner",
//     "launchConfig.environmentVariables.MY_VAR"), and its own violations
//     use the ordinary "Member must ..." clauses;
//   - a map key that breaks the key shape's constraints yields a single
//     violation at the map's path showing the key, with every failed key
//     constraint in brackets: "Value 'k' at 'tags' failed to satisfy
//     constraint: Map keys must satisfy constraint: [Member must have length
//     less than or equal to 128]".
//
// Violations come in a deterministic order: structure members in model
// order, depth first; a value's own constraints (type, size or length,
// range, pattern, enum) before those of its elements; list elements by
// index; map entries by key in byte order, each key before its value.
//
// Values are shown as the client sent them: strings and numbers verbatim
// (a json.Number keeps its literal), lists and maps as compact JSON. A
// displayed value longer than 256 characters is cut to its first 256
// characters followed by "...". String lengths count Unicode code points.
// Integers must be JSON integer literals within the shape's range (32 bits
// for "integer", 64 for "long"); "1.0" or "1e2" is not an integer.
func Validate(operation string, input map[string]any) error {
	return validate(operation, input, false)
}

// ValidateBody is Validate for an input decoded from the JSON request body
// body. encoding/json turns invalid UTF-8 and lone UTF-16 surrogate escapes
// ("\ud800") into U+FFFD without a word: when body holds either, every
// string carrying U+FFFD is refused as invalid UTF-8 rather than stored
// changed. (A body that is clean may carry U+FFFD itself.)
func ValidateBody(operation string, input map[string]any, body []byte) error {
	return validate(operation, input, !utf8.Valid(body) || HasLoneSurrogate(body))
}

func validate(operation string, input map[string]any, replaced bool) error {
	m := loaded()
	in, ok := m.inputs[operation]
	if !ok {
		if _, ok := m.opByName[operation]; ok {
			return nil // no input shape: nothing to check
		}
		return fmt.Errorf("%w %q", ErrUnknownOperation, operation)
	}
	c := checker{replaced: replaced}
	c.structure(in, "", input)
	if len(c.violations) == 0 {
		return nil
	}
	return &ValidationError{Violations: c.violations}
}

// Constraint clauses.
const (
	notNull  = "Member must not be null"
	mapKeys  = "Map keys must satisfy constraint: "
	maxShown = 256 // longest value shown in a message, in characters
)

// checker accumulates the violations of one Validate call.
type checker struct {
	violations []Violation
	// replaced: the JSON decoder replaced bad input with U+FFFD somewhere.
	replaced bool
}

// add records that value v at path failed constraint. A nil v is shown as
// null, anything else quoted.
func (c *checker) add(path string, v any, constraint string) {
	var b strings.Builder
	b.WriteString("Value ")
	if v == nil {
		b.WriteString("null")
	} else {
		b.WriteByte('\'')
		b.WriteString(display(v))
		b.WriteByte('\'')
	}
	b.WriteString(" at '")
	b.WriteString(path)
	b.WriteString("' failed to satisfy constraint: ")
	b.WriteString(constraint)
	c.violations = append(c.violations, Violation{Path: path, Message: b.String()})
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// structure checks the members of a structure value, in model order.
func (c *checker) structure(s *shape, path string, obj map[string]any) {
	for _, m := range s.members {
		p := join(path, m.name)
		v, ok := obj[m.name]
		if !ok || v == nil {
			if m.required {
				c.add(p, nil, notNull)
			}
			continue
		}
		c.value(m.shape, p, v)
	}
}

// value checks a non-null value against shape s.
func (c *checker) value(s *shape, path string, v any) {
	switch s.typ {
	case "structure":
		obj, ok := v.(map[string]any)
		if !ok {
			c.add(path, v, "Member must be a structure")
			return
		}
		c.structure(s, path, obj)

	case "list":
		items, ok := asList(v)
		if !ok {
			c.add(path, v, "Member must be a list")
			return
		}
		c.size(s, path, v, len(items))
		for i, item := range items {
			p := path + "." + strconv.Itoa(i+1) + ".member"
			if item == nil {
				c.add(p, nil, notNull)
				continue
			}
			c.value(s.member, p, item)
		}

	case "map":
		entries, ok := asMap(v)
		if !ok {
			c.add(path, v, "Member must be a map")
			return
		}
		c.size(s, path, v, len(entries))
		keys := make([]string, 0, len(entries))
		for k := range entries {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if s.key.typ == "string" {
				if failed := c.stringFailures(s.key, k); len(failed) > 0 {
					c.add(path, k, mapKeys+"["+strings.Join(failed, ", ")+"]")
				}
			}
			p := join(path, k)
			if val := entries[k]; val == nil {
				c.add(p, nil, notNull)
			} else {
				c.value(s.value, p, val)
			}
		}

	case "string":
		str, ok := v.(string)
		if !ok {
			c.add(path, v, "Member must be a string")
			return
		}
		for _, f := range c.stringFailures(s, str) {
			c.add(path, v, f)
		}

	case "integer", "long":
		bits := 32
		if s.typ == "long" {
			bits = 64
		}
		i, ok := asInteger(v, bits)
		if !ok {
			c.add(path, v, "Member must be an integer")
			return
		}
		if s.min != nil && cmpInt(i, s.min) < 0 {
			c.add(path, v, "Member must have value greater than or equal to "+s.min.text)
		}
		if s.max != nil && cmpInt(i, s.max) > 0 {
			c.add(path, v, "Member must have value less than or equal to "+s.max.text)
		}

	case "float", "double":
		f, ok := asFloat(v)
		if !ok {
			c.add(path, v, "Member must be a number")
			return
		}
		if s.min != nil && f < s.min.f {
			c.add(path, v, "Member must have value greater than or equal to "+s.min.text)
		}
		if s.max != nil && f > s.max.f {
			c.add(path, v, "Member must have value less than or equal to "+s.max.text)
		}

	case "boolean":
		if _, ok := v.(bool); !ok {
			c.add(path, v, "Member must be a boolean")
		}

	case "timestamp":
		if !isTimestamp(v) {
			c.add(path, v, "Member must be a timestamp")
		}

	case "blob":
		var n int
		switch b := v.(type) {
		case []byte:
			n = len(b)
		case string:
			d, err := base64.StdEncoding.DecodeString(b)
			if err != nil {
				c.add(path, v, "Member must be a blob")
				return
			}
			n = len(d)
		default:
			c.add(path, v, "Member must be a blob")
			return
		}
		c.size(s, path, v, n)
	}
}

// size checks the min and max traits of a list, map or blob of length n.
func (c *checker) size(s *shape, path string, v any, n int) {
	if f := lengthFailure(s, int64(n)); f != "" {
		c.add(path, v, f)
	}
}

// lengthFailure returns the failed length clause for length n, or "".
func lengthFailure(s *shape, n int64) string {
	if s.min != nil && cmpInt(n, s.min) < 0 {
		return "Member must have length greater than or equal to " + s.min.text
	}
	if s.max != nil && cmpInt(n, s.max) > 0 {
		return "Member must have length less than or equal to " + s.max.text
	}
	return ""
}

// Clauses of the strictness every string gets where the model's own
// constraints do not already refuse it: a NUL or an invalid byte would be
// stored, then break a file name, an environment variable or a log line.
const (
	notUTF8 = "Member must be valid UTF-8 (no invalid bytes and no lone surrogate escapes)"
	hasNUL  = "Member must not contain NUL characters"
)

// stringFailures is the package's stringFailures, plus invalid UTF-8 and
// NUL when the model's constraints pass.
func (c *checker) stringFailures(s *shape, str string) []string {
	failed := stringFailures(s, str)
	if len(failed) > 0 {
		return failed
	}
	if !utf8.ValidString(str) || (c.replaced && strings.ContainsRune(str, utf8.RuneError)) {
		failed = append(failed, notUTF8)
	}
	if strings.IndexByte(str, 0) >= 0 {
		failed = append(failed, hasNUL)
	}
	return failed
}

// HasLoneSurrogate reports whether the JSON text b has a \uD800-\uDFFF
// escape that is not half of a surrogate pair.
func HasLoneSurrogate(b []byte) bool {
	inString := false
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] == '"':
			inString = !inString
		case inString && b[i] == '\\' && i+1 < len(b):
			i++
			if b[i] != 'u' {
				continue
			}
			r, ok := hex4(b, i+1)
			if !ok {
				continue
			}
			i += 4
			switch {
			case r >= 0xDC00 && r <= 0xDFFF:
				return true // a low half first
			case r >= 0xD800 && r <= 0xDBFF:
				if i+2 >= len(b) || b[i+1] != '\\' || b[i+2] != 'u' {
					return true
				}
				lo, ok := hex4(b, i+3)
				if !ok || lo < 0xDC00 || lo > 0xDFFF {
					return true
				}
				i += 6
			}
		}
	}
	return false
}

// hex4 reads four hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[i:i+4]), 16, 32)
	return rune(n), err == nil
}

// stringFailures returns the clauses of every length, pattern and enum
// constraint of string shape s that str fails, in that order.
func stringFailures(s *shape, str string) []string {
	var failed []string
	if s.min != nil || s.max != nil {
		if f := lengthFailure(s, int64(utf8.RuneCountInString(str))); f != "" {
			failed = append(failed, f)
		}
	}
	if s.re != nil && !s.re.MatchString(str) {
		failed = append(failed, "Member must satisfy regular expression pattern: "+s.pattern+hints[shapeValue{s.name, str}])
	}
	if len(s.enum) > 0 {
		found := false
		for _, e := range s.enum {
			if e == str {
				found = true
				break
			}
		}
		if !found {
			failed = append(failed, "Member must satisfy enum value set: ["+strings.Join(s.enum, ", ")+"]")
		}
	}
	return failed
}

// shapeValue is a string value of a named shape.
type shapeValue struct{ shape, value string }

// hints add what to do instead to a pattern clause for values a user
// predictably tries: AWS's bare regex does not tell that a deployment needs
// a numbered version, and $LATEST is what the other operations accept.
var hints = map[shapeValue]string{
	{"DeploymentVersion", "$LATEST"}: " (deployments name a numbered version, not $LATEST: create one with CreateRobotApplicationVersion first and deploy the version number it returns)",
}

// cmpInt compares i with bound b.
func cmpInt(i int64, b *bound) int {
	if b.isInt {
		switch {
		case i < b.i:
			return -1
		case i > b.i:
			return 1
		}
		return 0
	}
	switch f := float64(i); {
	case f < b.f:
		return -1
	case f > b.f:
		return 1
	}
	return 0
}

func asList(v any) ([]any, bool) {
	switch l := v.(type) {
	case []any:
		return l, true
	case []string:
		items := make([]any, len(l))
		for i, s := range l {
			items[i] = s
		}
		return items, true
	}
	return nil, false
}

func asMap(v any) (map[string]any, bool) {
	switch m := v.(type) {
	case map[string]any:
		return m, true
	case map[string]string:
		entries := make(map[string]any, len(m))
		for k, s := range m {
			entries[k] = s
		}
		return entries, true
	}
	return nil, false
}

// asInteger returns v as an integer that fits in bits (32 or 64) bits.
func asInteger(v any, bits int) (int64, bool) {
	var i int64
	switch n := v.(type) {
	case json.Number:
		x, err := strconv.ParseInt(string(n), 10, bits)
		return x, err == nil
	case int:
		i = int64(n)
	case int8:
		i = int64(n)
	case int16:
		i = int64(n)
	case int32:
		i = int64(n)
	case int64:
		i = n
	case uint:
		if uint64(n) > math.MaxInt64 {
			return 0, false
		}
		i = int64(n)
	case uint8:
		i = int64(n)
	case uint16:
		i = int64(n)
	case uint32:
		i = int64(n)
	case uint64:
		if n > math.MaxInt64 {
			return 0, false
		}
		i = int64(n)
	case float64:
		// Exclusive upper bound: float64(MaxInt64) rounds up to 2^63.
		if n != math.Trunc(n) || n < math.MinInt64 || n >= math.MaxInt64 {
			return 0, false
		}
		i = int64(n)
	case float32:
		return asInteger(float64(n), bits)
	default:
		return 0, false
	}
	if bits == 32 && (i < math.MinInt32 || i > math.MaxInt32) {
		return 0, false
	}
	return i, true
}

// asFloat returns v as a finite number.
func asFloat(v any) (float64, bool) {
	var f float64
	switch n := v.(type) {
	case json.Number:
		x, err := strconv.ParseFloat(string(n), 64)
		if err != nil {
			return 0, false
		}
		f = x
	case float64:
		f = n
	case float32:
		f = float64(n)
	default:
		i, ok := asInteger(v, 64)
		if !ok {
			return 0, false
		}
		f = float64(i)
	}
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// isTimestamp reports whether v is a timestamp: epoch seconds (restJson's
// default format), an RFC 3339 string, or a time.Time.
func isTimestamp(v any) bool {
	switch t := v.(type) {
	case time.Time:
		return true
	case string:
		_, err := time.Parse(time.RFC3339Nano, t)
		return err == nil
	}
	_, ok := asFloat(v)
	return ok
}

// display renders a value for a message: strings and numbers verbatim,
// anything else as compact JSON, shortened to maxShown characters.
func display(v any) string {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case json.Number:
		s = string(x)
	default:
		var b strings.Builder
		render(&b, v)
		s = b.String()
	}
	return shorten(s)
}

// shorten cuts s to its first maxShown characters followed by "...".
func shorten(s string) string {
	if len(s) <= maxShown || utf8.RuneCountInString(s) <= maxShown {
		return s
	}
	n := 0
	for i := range s {
		if n == maxShown {
			return s[:i] + "..."
		}
		n++
	}
	return s
}

// renderBudget bounds the bytes render writes: enough for maxShown
// characters, so huge values are never rendered in full.
const renderBudget = 4*maxShown + 4

// render writes v as compact JSON (map keys sorted), stopping early once
// renderBudget bytes are written.
func render(b *strings.Builder, v any) {
	if b.Len() > renderBudget {
		return
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case string:
		if len(x) > renderBudget {
			x = x[:renderBudget] // may split a rune; shown as U+FFFD and cut anyway
		}
		writeJSONString(b, x)
	case json.Number:
		b.WriteString(string(x))
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case float64:
		b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
	case float32:
		b.WriteString(strconv.FormatFloat(float64(x), 'g', -1, 32))
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if b.Len() > renderBudget {
				return
			}
			if i > 0 {
				b.WriteByte(',')
			}
			render(b, e)
		}
		b.WriteByte(']')
	case []string:
		items, _ := asList(x)
		render(b, items)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if b.Len() > renderBudget {
				return
			}
			if i > 0 {
				b.WriteByte(',')
			}
			render(b, k)
			b.WriteByte(':')
			render(b, x[k])
		}
		b.WriteByte('}')
	case map[string]string:
		entries, _ := asMap(x)
		render(b, entries)
	default:
		if i, ok := asInteger(v, 64); ok {
			b.WriteString(strconv.FormatInt(i, 10))
			return
		}
		fmt.Fprint(b, v)
	}
}

// writeJSONString writes s as a JSON string without HTML escaping.
func writeJSONString(b *strings.Builder, s string) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		b.WriteString(strconv.Quote(s))
		return
	}
	b.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}
