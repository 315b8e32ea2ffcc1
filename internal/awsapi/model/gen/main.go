// Command gen writes robomaker.json, the trimmed copy of the AWS RoboMaker
// API model (api-2.json from github.com/aws/aws-sdk-go, Apache License 2.0)
// that package model embeds.
//
// It keeps "version" and "metadata", the operations fleetsync serves
// (reduced to their "name", "http", "input", "output" and "errors" fields)
// and every shape reachable, transitively, from those operations' inputs,
// outputs and errors. Shapes are copied unchanged; only whitespace differs.
// Operations and shapes keep the order of the source file.
//
// Usage (from internal/awsapi/model, normally via go generate):
//
//	go run gen/main.go [-src path/to/api-2.json] [-out robomaker.json]
//
// Without -src the file is looked up in the aws-sdk-go module that go.mod
// requires, using "go list -m".
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// operations lists the operations fleetsync implements.
var operations = []string{
	"CreateFleet", "DeleteFleet", "DescribeFleet", "ListFleets",
	"CreateRobot", "DeleteRobot", "DescribeRobot", "ListRobots",
	"RegisterRobot", "DeregisterRobot",
	"CreateRobotApplication", "CreateRobotApplicationVersion",
	"UpdateRobotApplication", "DescribeRobotApplication",
	"ListRobotApplications", "DeleteRobotApplication",
	"CreateDeploymentJob", "DescribeDeploymentJob", "ListDeploymentJobs",
	"CancelDeploymentJob", "SyncDeploymentJob",
	"TagResource", "UntagResource", "ListTagsForResource",
}

// operationFields are the operation fields kept, in output order.
var operationFields = []string{"name", "http", "input", "output", "errors"}

const (
	sdkModule = "github.com/aws/aws-sdk-go"
	modelPath = "models/apis/robomaker/2018-06-29/api-2.json"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("gen: ")
	src := flag.String("src", "", "path of the RoboMaker api-2.json (default: from the "+sdkModule+" module in go.mod)")
	out := flag.String("out", "robomaker.json", "output file")
	flag.Parse()

	if *src == "" {
		dir, err := moduleDir(sdkModule)
		if err != nil {
			log.Fatal(err)
		}
		*src = filepath.Join(dir, filepath.FromSlash(modelPath))
	}
	data, err := os.ReadFile(*src)
	if err != nil {
		log.Fatal(err)
	}
	trimmed, err := trim(data, operations)
	if err != nil {
		log.Fatalf("%s: %v", *src, err)
	}
	if err := os.WriteFile(*out, trimmed, 0o644); err != nil {
		log.Fatal(err)
	}
}

// moduleDir returns the directory of module path in the module cache.
func moduleDir(path string) (string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", path)
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list -m %s: %w", path, err)
	}
	dir := strings.TrimSpace(string(b))
	if dir == "" {
		return "", fmt.Errorf("module %s is not downloaded (run go mod download %s)", path, path)
	}
	return dir, nil
}

// field is one member of a JSON object, in source order.
type field struct {
	key   string
	value json.RawMessage
}

// object is a JSON object whose member order is preserved.
type object []field

func (o object) get(key string) (json.RawMessage, bool) {
	for _, f := range o {
		if f.key == key {
			return f.value, true
		}
	}
	return nil, false
}

// UnmarshalJSON decodes a JSON object, keeping its member order.
func (o *object) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != json.Delim('{') {
		return errors.New("not a JSON object")
	}
	*o = (*o)[:0]
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return err
		}
		*o = append(*o, field{key, v})
	}
	_, err = dec.Token()
	return err
}

// encode returns the object as compact JSON in member order. Values are
// copied byte for byte (encoding/json would HTML-escape them).
func (o object) encode() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(f.key); err != nil {
			return nil, err
		}
		b.Truncate(b.Len() - 1) // Encode appends a newline
		b.WriteByte(':')
		b.Write(f.value)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

type shapeRef struct {
	Shape string `json:"shape"`
}

// refs are the shape references a shape definition can hold.
type refs struct {
	Members map[string]shapeRef `json:"members"`
	Member  *shapeRef           `json:"member"`
	Key     *shapeRef           `json:"key"`
	Value   *shapeRef           `json:"value"`
}

// trim returns the trimmed, indented model holding only ops.
func trim(data []byte, ops []string) ([]byte, error) {
	var root object
	if err := json.Unmarshal(data, &root); err != nil {
		return nil, err
	}
	var allOps, allShapes object
	for _, k := range []string{"operations", "shapes"} {
		raw, ok := root.get(k)
		if !ok {
			return nil, fmt.Errorf("no %q", k)
		}
		dst := &allOps
		if k == "shapes" {
			dst = &allShapes
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
	}

	want := make(map[string]bool, len(ops))
	for _, name := range ops {
		if _, ok := allOps.get(name); !ok {
			return nil, fmt.Errorf("operation %s not in model", name)
		}
		want[name] = true
	}

	keep := map[string]bool{}
	var visit func(name string) error
	visit = func(name string) error {
		if name == "" || keep[name] {
			return nil
		}
		raw, ok := allShapes.get(name)
		if !ok {
			return fmt.Errorf("shape %s not in model", name)
		}
		keep[name] = true
		var r refs
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("shape %s: %w", name, err)
		}
		for _, m := range r.Members {
			if err := visit(m.Shape); err != nil {
				return err
			}
		}
		for _, p := range []*shapeRef{r.Member, r.Key, r.Value} {
			if p != nil {
				if err := visit(p.Shape); err != nil {
					return err
				}
			}
		}
		return nil
	}

	var outOps object
	for _, f := range allOps {
		if !want[f.key] {
			continue
		}
		var op object
		if err := json.Unmarshal(f.value, &op); err != nil {
			return nil, fmt.Errorf("operation %s: %w", f.key, err)
		}
		var trimmed object
		for _, k := range operationFields {
			if v, ok := op.get(k); ok {
				trimmed = append(trimmed, field{k, v})
			}
		}
		var o struct {
			Input  *shapeRef   `json:"input"`
			Output *shapeRef   `json:"output"`
			Errors []*shapeRef `json:"errors"`
		}
		if err := json.Unmarshal(f.value, &o); err != nil {
			return nil, fmt.Errorf("operation %s: %w", f.key, err)
		}
		for _, r := range append([]*shapeRef{o.Input, o.Output}, o.Errors...) {
			if r != nil {
				if err := visit(r.Shape); err != nil {
					return nil, fmt.Errorf("operation %s: %w", f.key, err)
				}
			}
		}
		b, err := trimmed.encode()
		if err != nil {
			return nil, err
		}
		outOps = append(outOps, field{f.key, b})
	}

	var outShapes object
	for _, f := range allShapes {
		if keep[f.key] {
			outShapes = append(outShapes, f)
		}
	}

	var out object
	for _, f := range root {
		switch f.key {
		case "version", "metadata":
			out = append(out, f)
		}
	}
	for _, f := range []struct {
		key string
		obj object
	}{{"operations", outOps}, {"shapes", outShapes}} {
		b, err := f.obj.encode()
		if err != nil {
			return nil, err
		}
		out = append(out, field{f.key, b})
	}

	compact, err := out.encode()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, compact, "", "  "); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}
