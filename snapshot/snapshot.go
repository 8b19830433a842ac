// Package snapshot is what a plan reads from GitHub, kept in one file: the
// packages the policies select, every version with its tags and dates,
// the versions GitHub refused to delete for their downloads, and the
// manifests of container packages. A plan, explain or policy test made
// from a snapshot reads nothing else: no request, no token. The format is
// versioned and documented in docs/snapshot.md.
package snapshot

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ghprune/ghprune/policy"
)

// Format and FormatVersion name the file format.
const (
	Format        = "ghprune-snapshot"
	FormatVersion = 1
)

// Bounds of a snapshot as read (after gzip): a file is input, and a gzip
// of a few kilobytes may hold gigabytes. Decoded, a JSON object costs up
// to some 200 bytes and a list element some 16 however short its text
// ("{}," is three bytes), so the objects and elements are bounded as well
// as the bytes, before anything is decoded. A file at the bounds costs
// some 1.6 GB to read (the decoder's buffer, then the values); a snapshot
// of 1,000,000 versions is some 250 MB of JSON, 1,000,000 objects and
// 6,000,000 elements.
const (
	MaxBytes    = 512 << 20
	MaxObjects  = 4_000_000
	MaxElements = 32_000_000
)

// maxBytes, maxObjects and maxElements are the bounds, lowered by their
// tests.
var (
	maxBytes    int64 = MaxBytes
	maxObjects  int64 = MaxObjects
	maxElements int64 = MaxElements
)

// jsonCount counts what a snapshot's JSON holds as it passes: bytes,
// objects and list elements. Braces and commas inside strings count too:
// an overestimate, never an underestimate.
type jsonCount struct{ bytes, objects, elements int64 }

// add counts p and says which bound the count has passed, if any.
func (c *jsonCount) add(p []byte) error {
	c.bytes += int64(len(p))
	c.objects += int64(bytes.Count(p, []byte("{")))
	c.elements += int64(bytes.Count(p, []byte(",")))
	switch {
	case c.bytes > maxBytes:
		return fmt.Errorf("larger than %d bytes", maxBytes)
	case c.objects > maxObjects:
		return fmt.Errorf("more than %d objects (versions, packages, manifests)", maxObjects)
	case c.elements > maxElements:
		return fmt.Errorf("more than %d list elements", maxElements)
	}
	return nil
}

// boundedReader counts what it reads, and fails past the bounds: the JSON
// decoder reads the whole value before it decodes, so a bound checked
// here holds before a byte of it is decoded.
type boundedReader struct {
	r io.Reader
	jsonCount
}

func (b *boundedReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if cerr := b.add(p[:n]); cerr != nil {
		// The bytes read are withheld: the decoder would decode a value it
		// already holds whole before it looked at the error.
		return 0, cerr
	}
	return n, err
}

// Snapshot is one snapshot file.
type Snapshot struct {
	Format  string    `json:"format"`
	Version int       `json:"version"`
	TakenAt time.Time `json:"taken_at"`
	// APIURL is the API the snapshot was read from.
	APIURL string `json:"api_url"`
	// Login is the token's own account, for policies of a user: GitHub
	// serves a token's own packages under /user. Empty when unknown.
	Login string `json:"login,omitempty"`
	// Listings are the package listings read, one per owner, package type
	// and visibility filter.
	Listings []Listing `json:"listings"`
	// Packages are the packages whose versions were read.
	Packages []Package `json:"packages"`
	// Manifests are the container manifests read, by digest.
	Manifests map[string]Manifest `json:"manifests,omitempty"`
}

// Listing is one listing of an owner's packages of one type.
type Listing struct {
	// Owner is how the API addressed it: org, user or self, and the login
	// (empty for self).
	OwnerKind string `json:"owner_kind"`
	Owner     string `json:"owner,omitempty"`
	Type      string `json:"package_type"`
	// Visibility is the filter GitHub was asked for; "" is none.
	Visibility string `json:"visibility,omitempty"`
	// Packages are the names and what GitHub said of each.
	Packages []ListedPackage `json:"packages"`
}

// ListedPackage is a package as a listing gives it.
type ListedPackage struct {
	Name         string `json:"name"`
	Visibility   string `json:"visibility"`
	VersionCount int    `json:"version_count"`
}

// Package is one package whose versions were read.
type Package struct {
	OwnerKind    string `json:"owner_kind"`
	Owner        string `json:"owner,omitempty"`
	Type         string `json:"package_type"`
	Name         string `json:"name"`
	Visibility   string `json:"visibility"`
	VersionCount int    `json:"version_count"`
	// Versions are the active versions, newest first, as listed.
	Versions []Version `json:"versions"`
	// Duplicates counts versions the last listing of the package showed
	// twice (it changed while it was paged): a plan from the snapshot then
	// keeps the package whole, as the live plan did.
	Duplicates int `json:"duplicates,omitempty"`
	// DownloadLimited are the versions GitHub refused to delete for their
	// downloads (more than 5,000, public): the journal's memory of them.
	DownloadLimited []int64 `json:"download_limited,omitempty"`
}

// Version is one version as GitHub listed it.
type Version struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	// Tags are null for package types without tags, and [] for an
	// untagged container version.
	Tags []string `json:"tags"`
	// CreatedAt and UpdatedAt are the valid timestamps; when GitHub sent
	// something else, the *Raw fields hold it as it came (a version whose
	// age is unknown is kept).
	CreatedAt    *time.Time `json:"created_at,omitempty"`
	UpdatedAt    *time.Time `json:"updated_at,omitempty"`
	CreatedAtRaw string     `json:"created_at_raw,omitempty"`
	UpdatedAtRaw string     `json:"updated_at_raw,omitempty"`
}

// Manifest is a manifest's bytes as the registry served them.
type Manifest struct {
	MediaType string `json:"media_type"`
	Body      []byte `json:"body"` // base64 in the file: the bytes must hash to the digest
}

// New starts an empty snapshot.
func New(apiURL string, takenAt time.Time) *Snapshot {
	return &Snapshot{Format: Format, Version: FormatVersion, TakenAt: takenAt.UTC(), APIURL: apiURL, Manifests: map[string]Manifest{}}
}

// Load reads a snapshot file, gzip-compressed or not (by its first bytes,
// whatever its name), and checks it.
func Load(path string) (*Snapshot, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", path, err)
	}
	defer f.Close()
	s, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", path, err)
	}
	return s, nil
}

// Read reads and checks a snapshot from r.
func Read(r io.Reader) (*Snapshot, error) {
	br := bufio.NewReader(r)
	var in io.Reader = br
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		in = zr
	}
	br2 := &boundedReader{r: in}
	dec := json.NewDecoder(br2)
	// A misspelt or unknown field is a file this ghprune does not read
	// faithfully (a "tag" typo would leave a version untagged).
	dec.DisallowUnknownFields()
	var s Snapshot
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("not a snapshot: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("not a snapshot: more after the JSON object")
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	if s.Manifests == nil {
		s.Manifests = map[string]Manifest{}
	}
	return &s, nil
}

// check refuses a snapshot this ghprune cannot read faithfully.
func (s *Snapshot) check() error {
	if s.Format != Format {
		return fmt.Errorf("not a ghprune snapshot: format %q, want %q", cut(s.Format), Format)
	}
	if s.Version != FormatVersion {
		return fmt.Errorf("snapshot format version %d: this ghprune reads version %d", s.Version, FormatVersion)
	}
	var problems []string
	for i, l := range s.Listings {
		if !kind(l.OwnerKind) || l.Type == "" || (l.OwnerKind != "self" && l.Owner == "") {
			problems = append(problems, fmt.Sprintf("listings[%d]: owner_kind (org, user or self), owner and package_type are required", i))
		}
	}
	pkgs := make(map[[4]string]bool, len(s.Packages))
	for i, p := range s.Packages {
		at := fmt.Sprintf("packages[%d]", i)
		if !kind(p.OwnerKind) || p.Type == "" || p.Name == "" || (p.OwnerKind != "self" && p.Owner == "") {
			problems = append(problems, at+": owner_kind (org, user or self), owner, package_type and name are required")
		}
		key := [4]string{p.OwnerKind, strings.ToLower(p.Owner), p.Type, p.Name}
		if pkgs[key] {
			problems = append(problems, at+": the package is listed twice")
		}
		pkgs[key] = true
		problems = append(problems, p.checkVersions(at)...)
		if len(problems) >= 20 {
			break
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

// checkVersions refuses ids that are not GitHub's (0 or less, or twice)
// and, where a name is a digest, one digest on two versions.
func (p *Package) checkVersions(at string) []string {
	var problems []string
	ids := make(map[int64]bool, len(p.Versions))
	names := make(map[string]bool, len(p.Versions))
	container := p.Type == "container" || p.Type == "docker"
	for j, v := range p.Versions {
		switch {
		case v.ID <= 0:
			problems = append(problems, fmt.Sprintf("%s.versions[%d]: id %d is not a version id", at, j, v.ID))
		case ids[v.ID]:
			problems = append(problems, fmt.Sprintf("%s.versions[%d]: id %d listed twice", at, j, v.ID))
		case container && names[v.Name]:
			problems = append(problems, fmt.Sprintf("%s.versions[%d]: digest %s listed twice", at, j, cut(v.Name)))
		}
		ids[v.ID], names[v.Name] = true, true
		if len(problems) >= 20 {
			break
		}
	}
	return problems
}

func kind(k string) bool { return k == "org" || k == "user" || k == "self" }

// cut shortens a value echoed in an error, tokens redacted.
func cut(s string) string { return policy.CutValue(s) }

// Write writes s to path, gzip-compressed when the name ends in .gz,
// through a temporary file renamed into place.
func (s *Snapshot) Write(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".snapshot-*")
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(tmp, 1<<16)
	if err := errors.Join(s.encode(bw, strings.HasSuffix(path, ".gz")), bw.Flush()); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}

// Encode writes s to w as JSON, gzip-compressed when zip. It refuses a
// snapshot past the bounds a reader takes: written, it could not be read.
func (s *Snapshot) encode(w io.Writer, zip bool) error {
	var zw *gzip.Writer
	if zip {
		zw = gzip.NewWriter(w)
		w = zw
	}
	bw := &boundedWriter{w: w}
	enc := json.NewEncoder(bw)
	if !zip {
		enc.SetIndent("", " ")
	}
	if err := enc.Encode(s); err != nil {
		return err
	}
	if err := bw.err; err != nil {
		return fmt.Errorf("the snapshot is %w, which no reader takes: snapshot fewer policies at once (-policy)", err)
	}
	if zw != nil {
		return zw.Close()
	}
	return nil
}

// boundedWriter counts what is written as boundedReader counts it, and
// keeps the first bound passed.
type boundedWriter struct {
	w io.Writer
	jsonCount
	err error
}

func (b *boundedWriter) Write(p []byte) (int, error) {
	if err := b.add(p); err != nil && b.err == nil {
		b.err = err
	}
	return b.w.Write(p)
}
