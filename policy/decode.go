package policy

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// nodeUnmarshaler is implemented by config types that parse themselves from a
// scalar (durations, patterns, modes). The error they return is located at the
// node by the decoder, so they need not know where they are.
type nodeUnmarshaler interface {
	unmarshalNode(n *yaml.Node) error
}

// decoder walks a yaml.Node tree into Go structs by their `yaml` tags. It exists
// instead of yaml.Decoder.KnownFields because it reports every error at once,
// each with line, column and the key path (policies[2].delete[0].older_than),
// which is what a person fixing a config needs.
type decoder struct {
	file string
	errs *Errors

	// yaml.Node keeps an alias as a pointer to its anchor's value, so the
	// walk re-walks that value at every use, and nested aliases multiply: a
	// few kilobytes can stand for billions of values. visits counts what
	// the walk did, in the budget's units; past budget, inside an alias,
	// decoding stops with one error at the outermost alias being expanded.
	visits, budget int
	nodes          int        // the document's own size in the same units, aliases not followed
	over           bool       // the budget ran out: walk no further
	alias          *yaml.Node // the outermost alias being expanded; nil outside aliases
	aliasPath      string

	// patterns caches compiled globs, regular expressions and constraints
	// by source, so a pattern repeated or reached through an alias is
	// compiled once. programs is what compiling the file's patterns cost,
	// against programBudget.
	patterns map[string]compiled
	programs int
	structs  map[reflect.Type]*structInfo
}

type compiled struct {
	p   Pattern
	err error
}

// The alias budget. Values are counted in units of about 64 bytes of
// decoded config: one per value walked, plus the size of each struct the
// walk allocates (a rule is 3 more, a policy 4), so that the budget bounds
// memory whatever shape the aliases take. The file's own size is counted
// the same way, its mappings as structs. A file may expand to aliasFactor
// times its own size, plus aliasFloor so that a small config sharing rule
// lists among many policies passes, and never to more than aliasMax, some
// 30 MB of decoded config and 0.1 s.
const (
	aliasFactor = 4
	aliasFloor  = 10_000
	aliasMax    = 500_000
	unitBytes   = 64
)

func newDecoder(file string, errs *Errors, doc *yaml.Node) *decoder {
	n := countNodes(doc)
	return &decoder{file: file, errs: errs, nodes: n, budget: min(aliasFactor*n+aliasFloor, aliasMax),
		patterns: map[string]compiled{}, structs: map[reflect.Type]*structInfo{}}
}

// The budget of a file's RE2 programs. Each distinct pattern compiled to
// one (globs with {} or **/, re:) costs its instructions, counted even when
// refused, plus programOverhead for the regexp.Regexp around it (some 2 KB
// live); a file's patterns may cost programBudget in all, some 20 ms to
// compile and 30 MB. A real config has tens of such patterns, not the tens
// of thousands that would take seconds and hundreds of megabytes.
const (
	programOverhead = 32
	programBudget   = 200_000
)

// mappingUnits is what a mapping node is counted as in the file's size:
// itself and the struct it is likely decoded into.
const mappingUnits = 5

// countNodes is the size of the tree at n in budget units, each node
// counted once: aliases are counted, not followed.
func countNodes(n *yaml.Node) int {
	c := 1
	if n.Kind == yaml.MappingNode {
		c = mappingUnits
	}
	for _, k := range n.Content {
		c += countNodes(k)
	}
	return c
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	d.errs.add(&FieldError{File: d.file, Line: n.Line, Column: n.Column, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// keyPath is a key path built only when it is needed: a list's elements
// share the list's path and differ by index, so decoding half a million
// list elements formats no path unless they are wrong.
type keyPath struct {
	base string
	idx  int // -1: no index
}

func (k keyPath) String() string {
	if k.idx < 0 {
		return k.base
	}
	return k.base + "[" + strconv.Itoa(k.idx) + "]"
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var patternType = reflect.TypeOf(Pattern{})

// charge counts k values about to be walked and reports whether the walk
// may go on. Past the budget, inside an alias, it records the error once
// and stops the walk.
func (d *decoder) charge(k int) bool {
	if d.over {
		return false
	}
	if d.alias == nil || d.visits+k <= d.budget {
		return true
	}
	d.over = true
	d.errs.add(&FieldError{File: d.file, Line: d.alias.Line, Column: d.alias.Column, Path: d.aliasPath,
		Msg: fmt.Sprintf("YAML aliases expand to more than %d values (the file has %d); write the values out or use fewer aliases", d.budget, d.nodes)})
	return false
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, kp keyPath) {
	if d.over {
		return
	}
	if n.Kind == yaml.AliasNode && d.alias == nil {
		d.alias, d.aliasPath = n, kp.String()
		defer func() { d.alias = nil }()
	}
	if !d.charge(1) {
		return
	}
	d.visits++
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		// "tags:" with nothing after it must not silently drop a condition
		// and widen a rule: an empty value is an error, not a default.
		if kp.base != "" || kp.idx >= 0 {
			d.errorf(n, kp.String(), "empty value: give a value or remove the key")
		}
		return
	}
	if v.Type() == patternType {
		d.pattern(n, v, kp)
		return
	}
	if v.CanAddr() {
		if u, ok := v.Addr().Interface().(nodeUnmarshaler); ok {
			if err := u.unmarshalNode(n); err != nil {
				d.errorf(n, kp.String(), "%v", err)
			}
			return
		}
	}
	path := kp.String()
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			size := int(v.Type().Elem().Size())
			if !d.charge(size / unitBytes) {
				return
			}
			d.visits += size / unitBytes
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), kp)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		d.decodeSlice(n, v, path)
	default:
		d.decodeScalar(n, v, path)
	}
}

// decodeSlice decodes the list n into the slice v.
func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "expected a list, got %s", describe(n))
		return
	}
	if len(n.Content) == 0 && v.Type() == reflect.TypeOf(Patterns(nil)) {
		// An empty pattern list reads as "no condition": refuse it, so a
		// half-edited list never widens a rule.
		d.errorf(n, path, "empty pattern list: give patterns or remove the key")
		return
	}
	// Every element will be walked: refuse before allocating a slice
	// the budget cannot pay for.
	if !d.charge(len(n.Content)) {
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, c := range n.Content {
		d.decode(c, s.Index(i), keyPath{path, i})
	}
	v.Set(s)
}

// decodeScalar decodes n into v, a string, bool or number.
func (d *decoder) decodeScalar(n *yaml.Node, v reflect.Value, path string) {
	switch v.Kind() {
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.errorf(n, path, "expected a string, got %s", describe(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		b, err := scalarBool(n)
		if err != nil {
			d.errorf(n, path, "%v", err)
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		d.decodeInt(n, v, path)
	case reflect.Float64:
		d.decodeFloat(n, v, path)
	default:
		d.errorf(n, path, "cannot decode into %s", v.Type())
	}
}

func (d *decoder) decodeInt(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		d.errorf(n, path, "expected a whole number, got %s", describe(n))
		return
	}
	i, err := strconv.ParseInt(n.Value, 0, 64)
	if err != nil {
		d.errorf(n, path, "expected a whole number, got %q", n.Value)
		return
	}
	v.SetInt(i)
}

func (d *decoder) decodeFloat(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
		d.errorf(n, path, "expected a number, got %s", describe(n))
		return
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
	if err != nil {
		d.errorf(n, path, "expected a number, got %q", n.Value)
		return
	}
	v.SetFloat(f)
}

// pattern decodes a pattern through the cache. Only patterns that compile
// to something are cached: literal and prefix globs cost less to compile
// than to look up, and a file can hold half a million of them.
func (d *decoder) pattern(n *yaml.Node, v reflect.Value, kp keyPath) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, kp.String(), "expected a pattern string, got %s", describe(n))
		return
	}
	c, ok := d.patterns[n.Value]
	if !ok {
		var cost int
		c.p, cost, c.err = compilePattern(n.Value)
		if cost > 0 {
			if d.programs += cost + programOverhead; d.programs > programBudget {
				d.over = true
				d.errorf(n, kp.String(), "the {}, **/ and re: patterns of this file compile to more than %d instructions in all; use fewer distinct ones", programBudget)
				return
			}
		}
		if c.err != nil || c.p.kind >= kindGlob {
			d.patterns[n.Value] = c
		}
	}
	if c.err != nil {
		d.errorf(n, kp.String(), "%v", c.err)
		return
	}
	*v.Addr().Interface().(*Pattern) = c.p
}

// structInfo is what decodeStruct needs of a struct type, computed once
// per type: an alias bomb decodes millions of structs.
type structInfo struct {
	fields map[string]int // yaml key → field index
	names  []string       // yaml keys, for suggestions
}

func (d *decoder) structInfo(t reflect.Type) *structInfo {
	if si, ok := d.structs[t]; ok {
		return si
	}
	si := &structInfo{fields: map[string]int{}}
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		si.fields[name] = i
		si.names = append(si.names, name)
	}
	d.structs[t] = si
	return si
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping, got %s", describe(n))
		return
	}
	si := d.structInfo(v.Type())
	var seen uint64               // known keys seen, by field index (config structs have fewer than 64 fields)
	var seenOther map[string]bool // unknown keys seen; allocated only for a mistake
	for i := 0; i+1 < len(n.Content); i += 2 {
		if d.over {
			return
		}
		k, val := n.Content[i], n.Content[i+1]
		key := k.Value
		if key == "<<" {
			d.errorf(k, joinPath(path, key), "merge keys are not supported; repeat the keys")
			continue
		}
		fi, ok := si.fields[key]
		dup := false
		if ok {
			dup = seen&(1<<fi) != 0
			seen |= 1 << fi
		} else {
			dup = seenOther[key]
			if seenOther == nil {
				seenOther = map[string]bool{}
			}
			seenOther[key] = true
		}
		if dup {
			d.errorf(k, joinPath(path, key), "duplicate key")
			continue
		}
		if !ok {
			msg := fmt.Sprintf("unknown key %s", quoteShort(key))
			if s := suggest(key, si.names); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.errorf(k, joinPath(path, key), "%s", msg)
			continue
		}
		d.decode(val, v.Field(fi), keyPath{joinPath(path, key), -1})
	}
}

func scalarBool(n *yaml.Node) (bool, error) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		switch strings.ToLower(n.Value) {
		case "true", "yes", "on":
			return true, nil
		case "false", "no", "off":
			return false, nil
		}
	}
	return false, fmt.Errorf("expected true or false, got %s", describe(n))
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return quoteShort(n.Value)
	}
	return "an unexpected value"
}

// Suggest is suggest for another YAML input (a policy tests file).
func Suggest(key string, known []string) string { return suggest(key, known) }

// suggest returns the known key closest to key when it is a likely typo.
// Keys far longer than any known key are no typo, and would cost
// len(key) × len(known) steps each: they get no suggestion.
func suggest(key string, known []string) string {
	if len(key) > maxSuggestKey {
		return ""
	}
	best, bestD := "", 3
	for _, k := range known {
		if d := levenshtein(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

const maxSuggestKey = 64

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
