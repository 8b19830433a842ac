// Package policytest runs policy tests: a YAML file of cases, each naming a
// version of a package and the decision a policy must make for it (keep or
// delete, and optionally the rule that decides), checked by planning the
// config's policies offline, from a snapshot. A tests file may declare
// synthetic packages, made-up versions with ages, so that a policy's intent
// can be pinned without GitHub, a token or a snapshot. The format is
// documented in docs/policy-tests.md; `ghprune test` is the command.
//
// The parser reads YAML nodes, so that every error names the file, line,
// column and key path, as the config loader's do; a tests file is input
// like a config, so its size is bounded before it is parsed.
package policytest

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ghprune/ghprune/policy"
)

// Bounds of a tests file. A tests file is read whole into YAML nodes (some
// 200 bytes a value), so its size and values are bounded before parsing;
// the cases and versions bound what a run keeps and plans.
const (
	// MaxFileBytes is the largest tests file read.
	MaxFileBytes = 8 << 20
	// MaxValues bounds the values a file holds (counted as the config
	// loader counts them: lines and separators), about 200 MB of nodes.
	MaxValues = 1_000_000
	// MaxCases is the most cases a file may hold.
	MaxCases = 10_000
	// MaxVersions is the most synthetic versions, all packages together.
	MaxVersions = 100_000
	// MaxTimes is the most distinct `at` values: each is a plan of the
	// policies its cases name.
	MaxTimes = 100
)

// maxErrors bounds the problems kept for one file; past it only the number
// of further problems is kept, as for a config.
const maxErrors = 200

// File is one tests file as written.
type File struct {
	// Path names the file in errors and reports.
	Path     string
	Cases    []*Case
	Packages []*Package
}

// Pos is where a value was written: 1-based line and column.
type Pos struct{ Line, Column int }

// Ref kinds: how a case names its version.
const (
	RefVersion = "version" // the version's name (a digest for containers; the label of a synthetic one)
	RefTag     = "tag"     // one of its tags
	RefID      = "id"      // its numeric id
)

// Ref is how a case names the version it is about.
type Ref struct {
	Kind string // RefVersion, RefTag or RefID
	Name string // the version name or tag; "" for RefID
	ID   int64  // for RefID
}

// String is the ref as reports print it: "version 1.2.3", "tag prod", "id 17".
func (r Ref) String() string {
	if r.Kind == RefID {
		return fmt.Sprintf("id %d", r.ID)
	}
	return r.Kind + " " + r.Name
}

// Case is one test case: the decision a policy must make for one version.
type Case struct {
	// Index is the case's place in tests, from 0.
	Index int
	Pos   Pos
	// Name is the name as written; "" when the case has none (DisplayName
	// then names it by its place).
	Name string
	// Policy is the policy's name; "" when the config has one policy.
	Policy string
	// Owner, when written, must be the policy's select.owner.
	Owner   string
	Package string
	Ref     Ref
	Expect  policy.Action
	// Rule is the rule that must decide, as written: a full label
	// (delete:pr-builds, protected:tag, deferred) or a bare keep or delete
	// rule name; "" when any rule will do.
	Rule string
	// At moves the case's evaluation time, as -at does (an RFC 3339
	// time, a date, or a duration from the run's time); "" is the run's time.
	At string

	keys map[string]Pos // where each key's value was written
}

// DisplayName is the case's name, or "tests[N]" when it has none.
func (c *Case) DisplayName() string {
	if c.Name != "" {
		return c.Name
	}
	return fmt.Sprintf("tests[%d]", c.Index)
}

// pos is where key's value was written, or the case when it was not.
func (c *Case) pos(key string) Pos {
	if p, ok := c.keys[key]; ok {
		return p
	}
	return c.Pos
}

// Package is a synthetic package: made-up versions a case can name like a
// package read from GitHub.
type Package struct {
	Index int
	Pos   Pos
	Owner string
	// OwnerType is org or user as written; "" follows the config's
	// policies that select the owner (org when none does).
	OwnerType  string
	Name       string
	Type       string // package_type
	Visibility string // public, private (the default) or internal
	// Versions are as written; the snapshot lists them newest first.
	Versions []*Version

	keys map[string]Pos
}

// container reports whether the package's versions are manifests, named
// by their digests and tagged.
func (p *Package) container() bool { return p.Type == "container" || p.Type == "docker" }

func (p *Package) pos(key string) Pos {
	if q, ok := p.keys[key]; ok {
		return q
	}
	return p.Pos
}

// Version is a synthetic version.
type Version struct {
	Pos Pos
	// Name is the version string; for a container package, an optional
	// label (the version's name is then the digest of a manifest made for
	// it) that cases and children name it by.
	Name string
	Tags []string
	// Age is how long before the run's time it was created.
	Age policy.Duration
	// ID is the id as written; 0 has one assigned.
	ID int64
	// Children, for a container package, are the labels of the versions
	// this one is an index of (a multi-platform image).
	Children []string

	keys map[string]Pos
}

// Keys are every key a tests file may hold, for the documentation's check.
func Keys() []string {
	keys := []string{"tests", "packages"}
	for _, ks := range [][]string{caseKeys, packageKeys, versionKeys} {
		for _, k := range ks {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	return keys
}

// ReadFile reads a tests file, at most MaxFileBytes and one byte more so
// that Parse can refuse a bigger one without reading it whole.
func ReadFile(path string) ([]byte, error) { return policy.ReadBounded(path, "tests", MaxFileBytes) }

// Load reads and parses the tests file at path.
func Load(path string) (*File, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse decodes a tests file; file names it in errors. Every problem is
// reported at once, as a *policy.Errors sorted by position.
func Parse(file string, data []byte) (*File, error) {
	d := &decoder{file: file, errs: &policy.Errors{}}
	if len(data) > MaxFileBytes {
		// data may be cut one byte past the bound (ReadFile): its length
		// is not the file's.
		d.add(Pos{}, "", fmt.Sprintf("the file is over %d bytes, the most a tests file may be", MaxFileBytes))
		return nil, d.err()
	}
	if line, n := countValues(data); n > MaxValues {
		// yaml.v3 builds a node of some 200 bytes for every value before
		// anything here can look at it: bound them first.
		d.add(Pos{line, 1}, "", fmt.Sprintf("the file holds more than %d values", MaxValues))
		return nil, d.err()
	}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if err == io.EOF {
			d.add(Pos{}, "", "the file is empty; it needs a tests: list")
		} else {
			d.syntax(err)
		}
		return nil, d.err()
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		d.add(Pos{extra.Line, extra.Column}, "", "more than one YAML document; put everything in one")
	}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	if refuseAliases(d, doc, "") {
		return nil, d.err()
	}
	f := &File{Path: file}
	d.top(doc, f)
	d.checkFile(f)
	if err := d.err(); err != nil {
		return nil, err
	}
	return f, nil
}

// checkFile checks what spans the file: the bounds (the cases' is checked
// as they are read), unique synthetic packages and ids, and what cases say
// of synthetic packages.
func (d *decoder) checkFile(f *File) {
	versions := 0
	ids := map[int64]bool{}
	seen := map[string]bool{}
	for _, p := range f.Packages {
		k := packageKey(p.Owner, p.Type, p.Name)
		if seen[k] {
			d.add(p.pos("name"), fmt.Sprintf("packages[%d]", p.Index), fmt.Sprintf("the %s package %s/%s is declared twice", p.Type, cut(p.Owner, maxEcho), cut(p.Name, maxEcho)))
		}
		seen[k] = true
		for j, v := range p.Versions {
			versions++
			if versions == MaxVersions+1 {
				d.add(v.Pos, fmt.Sprintf("packages[%d].versions[%d]", p.Index, j), fmt.Sprintf("at most %d synthetic versions in a file", MaxVersions))
			}
			if v.ID != 0 && ids[v.ID] {
				d.add(v.keys["id"], fmt.Sprintf("packages[%d].versions[%d].id", p.Index, j), fmt.Sprintf("id %d is given to two versions", v.ID))
			}
			ids[v.ID] = true
		}
	}
	times := map[string]bool{}
	for _, c := range f.Cases {
		if c.At != "" && !times[c.At] {
			times[c.At] = true
			if len(times) == MaxTimes+1 {
				d.add(c.pos("at"), fmt.Sprintf("tests[%d].at", c.Index), fmt.Sprintf("at most %d distinct at values in a file (each is a plan of the policies)", MaxTimes))
			}
		}
	}
}

// packageKey identifies a package: owners are case-insensitive on GitHub.
func packageKey(owner, packageType, name string) string {
	return lower(owner) + "\x00" + packageType + "\x00" + name
}

// PackageTypes are the package types a synthetic package may have: the
// config's.
var packageTypes = policy.PackageTypes

// validAt checks an at value's syntax; relative values are checked
// against any time, the run's is not known yet.
func validAt(s string) error {
	_, err := policy.ParseAt(s, time.Unix(0, 0))
	return err
}

func oneOf(s string, allowed ...string) bool { return slices.Contains(allowed, s) }
