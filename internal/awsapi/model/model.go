// Package model embeds the AWS RoboMaker API model for the operations
// fleetsync serves and validates operation inputs against it, the way the
// AWS service does: every required member, length, pattern, enum, range,
// list/map size and JSON type constraint of the model is enforced, and
// violations are reported with AWS's validation wording.
//
// NOTICE: robomaker.json is derived from the AWS RoboMaker API model
// (models/apis/robomaker/2018-06-29/api-2.json) of aws-sdk-go
// (https://github.com/aws/aws-sdk-go), Copyright Amazon.com, Inc. or its
// affiliates, licensed under the Apache License, Version 2.0. It is a
// trimmed copy produced by gen/main.go: the shapes are unchanged.
package model

//go:generate go run gen/main.go

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"sync"
)

//go:embed robomaker.json
var modelJSON []byte

// Operation describes one API operation of the embedded model.
type Operation struct {
	Name       string   // "CreateFleet"
	Method     string   // "POST"
	RequestURI string   // "/createFleet", "/tags/{resourceArn}"
	Errors     []string // error shape names the model lists

	Input    string    // input shape name, "CreateFleetRequest"
	Output   string    // output shape name, "CreateFleetResponse"
	Bindings []Binding // input members carried outside the JSON body
}

// Binding describes an input member that travels in the URI, the query
// string or a header rather than in the JSON body. Callers put such values
// into the input map under Member before calling Validate.
type Binding struct {
	Member       string // model member name, "tagKeys"
	Location     string // "uri", "querystring" or "header"
	LocationName string // name in the URI template, query string or header, "tagKeys"
	List         bool   // the member is a list (a repeated query parameter)
}

// Operations returns every operation of the embedded model, sorted by name.
func Operations() []Operation {
	m := loaded()
	ops := make([]Operation, len(m.ops))
	for i, op := range m.ops {
		ops[i] = op.clone()
	}
	return ops
}

// Lookup returns the operation with that name.
func Lookup(name string) (Operation, bool) {
	op, ok := loaded().opByName[name]
	if !ok {
		return Operation{}, false
	}
	return op.clone(), true
}

func (op Operation) clone() Operation {
	op.Errors = append([]string(nil), op.Errors...)
	op.Bindings = append([]Binding(nil), op.Bindings...)
	return op
}

// apiModel is the parsed, resolved model.
type apiModel struct {
	ops      []Operation               // sorted by name
	opByName map[string]Operation      // by operation name
	shapes   map[string]*shape         // by shape name
	inputs   map[string]*shape         // input shape by operation name
	patterns map[string]*regexp.Regexp // compiled model pattern by pattern text
}

// shape is a resolved model shape.
type shape struct {
	name     string
	typ      string // "structure", "list", "map", "string", "integer", ...
	members  []member
	min, max *bound
	pattern  string
	re       *regexp.Regexp
	enum     []string
	member   *shape // list element
	key      *shape // map key
	value    *shape // map value
}

// member is one member of a structure shape, in model order.
type member struct {
	name     string
	shape    *shape
	required bool
}

// bound is a min or max trait. text is the model's literal, used verbatim in
// messages.
type bound struct {
	text  string
	i     int64 // valid when isInt
	isInt bool
	f     float64
}

// loaded returns the embedded model, parsing it on first use. The model is
// part of the binary, so a parse failure is a programming error (caught by
// the package tests) and panics.
var loaded = sync.OnceValue(func() *apiModel {
	m, err := parseModel(modelJSON)
	if err != nil {
		panic("model: embedded robomaker.json: " + err.Error())
	}
	return m
})

// specOverrides are the bounds fleetsync's SPEC decides where the AWS model
// is silent or narrower: up to three filters ANDed (SPEC §3; the model says
// one, the AWS docs three) and the robot deployment timeout's documented
// range of 60..604800 seconds (SPEC §5; the model gives no range).
var specOverrides = map[string]struct{ min, max *json.Number }{
	"Filters":           {min: num("1"), max: num("3")},
	"DeploymentTimeout": {min: num("60"), max: num("604800")},
}

func num(s string) *json.Number {
	n := json.Number(s)
	return &n
}

// JSON structure of api-2.json.

type rawModel struct {
	Operations map[string]rawOperation `json:"operations"`
	Shapes     map[string]rawShape     `json:"shapes"`
}

type rawOperation struct {
	Name string `json:"name"`
	HTTP struct {
		Method     string `json:"method"`
		RequestURI string `json:"requestUri"`
	} `json:"http"`
	Input  *rawRef  `json:"input"`
	Output *rawRef  `json:"output"`
	Errors []rawRef `json:"errors"`
}

type rawRef struct {
	Shape        string `json:"shape"`
	Location     string `json:"location"`
	LocationName string `json:"locationName"`
}

type rawShape struct {
	Type     string       `json:"type"`
	Members  rawMembers   `json:"members"`
	Required []string     `json:"required"`
	Min      *json.Number `json:"min"`
	Max      *json.Number `json:"max"`
	Pattern  string       `json:"pattern"`
	Enum     []string     `json:"enum"`
	Member   *rawRef      `json:"member"`
	Key      *rawRef      `json:"key"`
	Value    *rawRef      `json:"value"`
}

type rawMember struct {
	name string
	ref  rawRef
}

// rawMembers keeps structure members in model order (a Go map would lose
// it, and violations are reported in model member order).
type rawMembers []rawMember

// UnmarshalJSON decodes a JSON object of member name to shape reference,
// keeping the order of the members.
func (ms *rawMembers) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != json.Delim('{') {
		return errors.New("members is not an object")
	}
	*ms = nil
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string)
		var ref rawRef
		if err := dec.Decode(&ref); err != nil {
			return fmt.Errorf("member %s: %w", name, err)
		}
		*ms = append(*ms, rawMember{name, ref})
	}
	_, err = dec.Token()
	return err
}

// compilePattern compiles a model pattern for whole-value matching. Model
// patterns are Java regular expressions matched with Matcher.matches; every
// pattern of the embedded model is also valid RE2 syntax with the same
// meaning, so none is translated (TestPatternsCompile checks this). The one
// residual difference: Java's '.' also rejects \r, U+0085, U+2028 and
// U+2029, RE2's only \n, so ".*" patterns accept those four characters.
func compilePattern(p string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?:` + p + `)$`)
}

func parseBound(n *json.Number) (*bound, error) {
	if n == nil {
		return nil, nil
	}
	b := &bound{text: n.String()}
	f, err := strconv.ParseFloat(b.text, 64)
	if err != nil {
		return nil, fmt.Errorf("bad bound %q", b.text)
	}
	b.f = f
	if i, err := strconv.ParseInt(b.text, 10, 64); err == nil {
		b.i, b.isInt = i, true
	} else if f == float64(int64(f)) {
		b.i, b.isInt = int64(f), true // "100.0"
	}
	return b, nil
}

func parseModel(data []byte) (*apiModel, error) {
	var raw rawModel
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	m := &apiModel{
		opByName: map[string]Operation{},
		shapes:   map[string]*shape{},
		inputs:   map[string]*shape{},
		patterns: map[string]*regexp.Regexp{},
	}
	for name, rs := range raw.Shapes {
		s := &shape{name: name, typ: rs.Type, pattern: rs.Pattern, enum: rs.Enum}
		var err error
		if s.min, err = parseBound(rs.Min); err != nil {
			return nil, fmt.Errorf("shape %s: min: %w", name, err)
		}
		if s.max, err = parseBound(rs.Max); err != nil {
			return nil, fmt.Errorf("shape %s: max: %w", name, err)
		}
		if rs.Pattern != "" {
			re, ok := m.patterns[rs.Pattern]
			if !ok {
				if re, err = compilePattern(rs.Pattern); err != nil {
					return nil, fmt.Errorf("shape %s: pattern: %w", name, err)
				}
				m.patterns[rs.Pattern] = re
			}
			s.re = re
		}
		m.shapes[name] = s
	}
	for name, o := range specOverrides {
		s, ok := m.shapes[name]
		if !ok {
			return nil, fmt.Errorf("override of unknown shape %s", name)
		}
		var err error
		if s.min, err = parseBound(o.min); err != nil {
			return nil, err
		}
		if s.max, err = parseBound(o.max); err != nil {
			return nil, err
		}
	}
	resolve := func(ref *rawRef, from string) (*shape, error) {
		if ref == nil {
			return nil, fmt.Errorf("%s: missing shape reference", from)
		}
		s, ok := m.shapes[ref.Shape]
		if !ok {
			return nil, fmt.Errorf("%s: unknown shape %q", from, ref.Shape)
		}
		return s, nil
	}
	for name, rs := range raw.Shapes {
		s := m.shapes[name]
		var err error
		switch s.typ {
		case "structure":
			required := map[string]bool{}
			for _, r := range rs.Required {
				required[r] = true
			}
			for _, rm := range rs.Members {
				ms, err := resolve(&rm.ref, name+"."+rm.name)
				if err != nil {
					return nil, err
				}
				s.members = append(s.members, member{name: rm.name, shape: ms, required: required[rm.name]})
				delete(required, rm.name)
			}
			if len(required) > 0 {
				return nil, fmt.Errorf("shape %s: required members %v do not exist", name, required)
			}
		case "list":
			s.member, err = resolve(rs.Member, name+" member")
		case "map":
			if s.key, err = resolve(rs.Key, name+" key"); err == nil {
				s.value, err = resolve(rs.Value, name+" value")
			}
		}
		if err != nil {
			return nil, err
		}
	}
	for name, ro := range raw.Operations {
		op := Operation{
			Name:       name,
			Method:     ro.HTTP.Method,
			RequestURI: ro.HTTP.RequestURI,
		}
		if ro.Name != name {
			return nil, fmt.Errorf("operation %s has name %q", name, ro.Name)
		}
		for _, e := range ro.Errors {
			if _, err := resolve(&e, name+" error"); err != nil {
				return nil, err
			}
			op.Errors = append(op.Errors, e.Shape)
		}
		if ro.Output != nil {
			if _, err := resolve(ro.Output, name+" output"); err != nil {
				return nil, err
			}
			op.Output = ro.Output.Shape
		}
		if ro.Input != nil {
			in, err := resolve(ro.Input, name+" input")
			if err != nil {
				return nil, err
			}
			if in.typ != "structure" {
				return nil, fmt.Errorf("operation %s: input %s is not a structure", name, in.name)
			}
			op.Input = in.name
			m.inputs[name] = in
			for _, rm := range raw.Shapes[in.name].Members {
				if rm.ref.Location == "" {
					continue
				}
				loc := rm.ref.LocationName
				if loc == "" {
					loc = rm.name
				}
				op.Bindings = append(op.Bindings, Binding{
					Member:       rm.name,
					Location:     rm.ref.Location,
					LocationName: loc,
					List:         m.shapes[rm.ref.Shape].typ == "list",
				})
			}
		}
		m.opByName[name] = op
		m.ops = append(m.ops, op)
	}
	sort.Slice(m.ops, func(i, j int) bool { return m.ops[i].Name < m.ops[j].Name })
	return m, nil
}
