package simulator

import (
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Fixture is a simulated GitHub described in YAML; the package documentation
// shows the format. LoadFixture reads one, Seed loads it into a Server.
type Fixture struct {
	// IDOrder is the order in which a package's versions get their ids:
	// "created" (or empty) sorts them by creation time, as GitHub numbers
	// versions as they are pushed; "listed" keeps the order of the file, a
	// repeat's in the order of i, so that a world can pin its ids.
	IDOrder  string           `yaml:"id_order"`
	Tokens   []FixtureToken   `yaml:"tokens"`
	Orgs     []FixtureOrg     `yaml:"orgs"`
	Users    []FixtureUser    `yaml:"users"`
	Packages []FixturePackage `yaml:"packages"`
}

// FixtureToken is an access token; see Token.
type FixtureToken struct {
	Token       string   `yaml:"token"`
	Login       string   `yaml:"login"`
	Scopes      []string `yaml:"scopes"`
	FineGrained bool     `yaml:"fine_grained"`
}

// FixtureOrg is an organization; Admins may delete and restore its packages
// (none listed means every token may).
type FixtureOrg struct {
	Login  string   `yaml:"login"`
	ID     int64    `yaml:"id"`
	Admins []string `yaml:"admins"`
}

// FixtureUser is a user account that owns packages.
type FixtureUser struct {
	Login string `yaml:"login"`
	ID    int64  `yaml:"id"`
}

// FixturePackage is a package with its versions. CreatedAt and Age are
// exclusive ways to give its creation time; neither means "derived from the
// versions", as with PackageSeed.
type FixturePackage struct {
	Owner          string           `yaml:"owner"`
	Name           string           `yaml:"name"`
	Type           string           `yaml:"type"`
	Visibility     string           `yaml:"visibility"`
	Repository     string           `yaml:"repository"`
	CreatedAt      time.Time        `yaml:"created_at"`
	Age            string           `yaml:"age"`
	DockerConflict bool             `yaml:"docker_conflict"`
	Versions       []FixtureVersion `yaml:"versions"`
}

// FixtureVersion is one version, or with Repeat a series of them. Each time
// is given either absolutely (CreatedAt, UpdatedAt, DeletedAt) or as an age
// before the server clock's now at Seed (Age, UpdatedAge, DeletedAge), never
// both. A version with a deletion time is seeded deleted.
type FixtureVersion struct {
	Name       string    `yaml:"name"`
	Tags       []string  `yaml:"tags"`
	CreatedAt  time.Time `yaml:"created_at"`
	Age        string    `yaml:"age"`
	UpdatedAt  time.Time `yaml:"updated_at"`
	UpdatedAge string    `yaml:"updated_age"`
	DeletedAt  time.Time `yaml:"deleted_at"`
	DeletedAge string    `yaml:"deleted_age"`
	Downloads  int       `yaml:"downloads"`
	// Manifest is the manifest the registry serves, as text (see
	// VersionSeed.Manifest); MediaType its Content-Type when it is not the
	// manifest's own mediaType field. Name may then be omitted.
	Manifest  string `yaml:"manifest"`
	MediaType string `yaml:"media_type"`
	// Image and Index build the manifest instead; Manifest, Image and Index
	// are exclusive. Image is an image manifest made by ImageManifest.
	Image *FixtureImage `yaml:"image"`
	// Index is an OCI image index (a multi-platform image) of versions
	// listed above it in the same package, in this order.
	Index []FixtureIndexEntry `yaml:"index"`
	// Ref names the version so that Index, AttestationOf and SignatureOf of
	// versions below it in the package can point at it. A version that
	// others point at needs a manifest; a repeat cannot have a Ref.
	Ref string `yaml:"ref"`
	// SignatureOf adds the tag under which cosign stores the signature of
	// the version with this Ref: its digest as "sha256-<hex>.sig".
	SignatureOf string `yaml:"signature_of"`
	// Repeat makes this many versions; the i-th (from 1) is Every*(Repeat-i)
	// older than the given time, so the highest i is the newest. Placeholders
	// in Name, Tags, Manifest, Image and the ages are replaced by their value
	// for i: {i}, or an integer expression of i such as {100-i} or
	// {(i-1)%7+1} (+ - * / % and parentheses, as in Go). An age with a
	// placeholder gives each version its own time, and Every is then left
	// out. Without Repeat, braces are text.
	Repeat int    `yaml:"repeat"`
	Every  string `yaml:"every"`
}

// FixtureImage is an image manifest as ImageManifest builds it (OCI): a
// config and one layer per size, the digests derived from Seed alone, so
// that equal seeds give equal manifests.
type FixtureImage struct {
	// Seed must not be empty; with Repeat it needs a placeholder.
	Seed string `yaml:"seed"`
	// Layers are the layer sizes: bytes, or a whole number of KiB, MiB or
	// GiB ("512", "4KiB", "30MiB").
	Layers []string `yaml:"layers"`
}

// FixtureIndexEntry is one child of an index: the version with Ref,
// described with its platform ("os/architecture" or
// "os/architecture/variant", none when empty), or with AttestationOf as the
// buildx attestation of the version with that ref (platform unknown/unknown
// and the vnd.docker.reference annotations that tie the two).
type FixtureIndexEntry struct {
	Ref           string `yaml:"ref"`
	Platform      string `yaml:"platform"`
	AttestationOf string `yaml:"attestation_of"`
}

// LoadFixture reads a YAML fixture strictly: an unknown key, a bad age or a
// missing name is an error naming the line or key path.
func LoadFixture(r io.Reader) (*Fixture, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var f Fixture
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("load fixture: %w", err)
	}
	if err := f.validate(); err != nil {
		return nil, fmt.Errorf("load fixture: %w", err)
	}
	return &f, nil
}

// badFunc records a problem at a key path ("packages[0].versions[2].age").
type badFunc func(path, format string, args ...any)

// fixtureErrors collects a fixture's problems in the order they are found,
// each prefixed by its key path.
type fixtureErrors []error

func (errs *fixtureErrors) bad(path, format string, args ...any) {
	*errs = append(*errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
}

func (f *Fixture) validate() error {
	var errs fixtureErrors
	if o := f.IDOrder; o != "" && o != "created" && o != "listed" {
		errs.bad("id_order", "%q is not one of created, listed", o)
	}
	f.checkTokens(errs.bad)
	f.checkAccounts(errs.bad)
	for i, pk := range f.Packages {
		pk.check(&errs, fmt.Sprintf("packages[%d]", i))
	}
	return errors.Join(errs...)
}

func (f *Fixture) checkTokens(bad badFunc) {
	seenTok := map[string]bool{}
	for i, t := range f.Tokens {
		p := fmt.Sprintf("tokens[%d]", i)
		switch {
		case t.Token == "":
			bad(p+".token", "empty")
		case seenTok[t.Token]:
			bad(p+".token", "duplicate token")
		}
		seenTok[t.Token] = true
		if t.Login == "" {
			bad(p+".login", "empty")
		}
	}
}

// checkAccounts checks orgs and users together: they share one namespace of
// logins, compared without case as GitHub does.
func (f *Fixture) checkAccounts(bad badFunc) {
	seenLogin := map[string]bool{}
	account := func(p, login string, id int64) {
		switch {
		case login == "":
			bad(p+".login", "empty")
		case seenLogin[strings.ToLower(login)]:
			bad(p+".login", "duplicate login %q", login)
		}
		seenLogin[strings.ToLower(login)] = true
		if id <= 0 {
			bad(p+".id", "must be a positive number")
		}
	}
	for i, o := range f.Orgs {
		account(fmt.Sprintf("orgs[%d]", i), o.Login, o.ID)
	}
	for i, u := range f.Users {
		account(fmt.Sprintf("users[%d]", i), u.Login, u.ID)
	}
}

// check checks the package at key path p and its versions.
func (pk FixturePackage) check(errs *fixtureErrors, p string) {
	bad := errs.bad
	before := len(*errs)
	if pk.Owner == "" {
		bad(p+".owner", "empty")
	}
	if pk.Name == "" {
		bad(p+".name", "empty")
	}
	if !slices.Contains(packageTypes, pk.Type) {
		bad(p+".type", "%q is not one of %s", pk.Type, strings.Join(packageTypes, ", "))
	}
	if v := pk.Visibility; v != "" && v != "public" && v != "private" && v != "internal" {
		bad(p+".visibility", "%q is not one of public, private, internal", v)
	}
	checkTime(bad, p, "created_at", "age", pk.CreatedAt, pk.Age, false)
	digest := pk.Type == "container" || pk.Type == "docker"
	refs := refsAbove{}
	for j, v := range pk.Versions {
		v.check(bad, fmt.Sprintf("%s.versions[%d]", p, j), digest, refs)
	}
	// What only the versions themselves show (a placeholder's value, a
	// layer size, a name that is not the digest) is checked by making
	// them, once the rest holds.
	if len(*errs) == before {
		if _, err := pk.drafts(p); err != nil {
			*errs = append(*errs, err)
		}
	}
}

// refsAbove are the refs of the versions of a package checked so far; true
// for those with a manifest, which others may point at.
type refsAbove map[string]bool

func (refs refsAbove) pointsAt(bad badFunc, path, ref string) {
	if !refs[ref] {
		bad(path, "no version above it with a manifest has ref %q", ref)
	}
}

// check checks the version at key path vp of a package whose versions have
// digests (container, docker) or not, and adds its ref to refs.
func (v FixtureVersion) check(bad badFunc, vp string, digest bool, refs refsAbove) {
	repeated := v.Repeat > 1
	if v.Name == "" && !digest {
		bad(vp+".name", "empty (only container and docker versions may omit it)")
	}
	agePlaceholder := repeated && hasPlaceholder(v.Age)
	checkTime(bad, vp, "created_at", "age", v.CreatedAt, v.Age, agePlaceholder)
	checkTime(bad, vp, "updated_at", "updated_age", v.UpdatedAt, v.UpdatedAge, repeated && hasPlaceholder(v.UpdatedAge))
	checkTime(bad, vp, "deleted_at", "deleted_age", v.DeletedAt, v.DeletedAge, repeated && hasPlaceholder(v.DeletedAge))
	if v.Downloads < 0 {
		bad(vp+".downloads", "negative")
	}
	kinds := v.checkManifest(bad, vp, digest)
	v.checkIndex(bad, vp, refs)
	if v.SignatureOf != "" {
		if repeated {
			bad(vp+".signature_of", "not allowed with repeat, or versions would share a tag")
		}
		refs.pointsAt(bad, vp+".signature_of", v.SignatureOf)
	}
	v.checkRepeat(bad, vp, agePlaceholder)
	if v.Ref != "" {
		switch _, seen := refs[v.Ref]; {
		case repeated:
			bad(vp+".ref", "not allowed with repeat")
		case seen:
			bad(vp+".ref", "duplicate ref %q", v.Ref)
		}
		refs[v.Ref] = len(kinds) > 0
	}
}

// checkManifest checks how the version's manifest is given and returns the
// keys that give it (manifest, image, index), none if it has none.
func (v FixtureVersion) checkManifest(bad badFunc, vp string, digest bool) []string {
	repeated := v.Repeat > 1
	var kinds []string
	for _, k := range []struct {
		key string
		set bool
	}{{"manifest", v.Manifest != ""}, {"image", v.Image != nil}, {"index", len(v.Index) > 0}} {
		if k.set {
			kinds = append(kinds, k.key)
		}
	}
	switch {
	case len(kinds) > 1:
		bad(vp, "%s are exclusive", strings.Join(kinds, " and "))
	case len(kinds) == 1 && !digest:
		bad(vp+"."+kinds[0], "only container and docker versions have one")
	case len(kinds) == 0 && v.MediaType != "":
		bad(vp+".media_type", "needs a manifest, image or index")
	case v.Image != nil && v.Image.Seed == "":
		bad(vp+".image.seed", "empty")
	case repeated && v.Manifest != "" && !hasPlaceholder(v.Manifest):
		bad(vp+".manifest", "must contain {i} with repeat, or versions would share a digest")
	case repeated && v.Image != nil && !hasPlaceholder(v.Image.Seed):
		bad(vp+".image.seed", "must contain {i} with repeat, or versions would share a digest")
	case repeated && len(v.Index) > 0:
		bad(vp+".index", "not allowed with repeat, or versions would share a digest")
	}
	return kinds
}

// checkIndex checks the children of an index: each points at a version
// above it, with a platform or as an attestation.
func (v FixtureVersion) checkIndex(bad badFunc, vp string, refs refsAbove) {
	for k, e := range v.Index {
		ep := fmt.Sprintf("%s.index[%d]", vp, k)
		if e.Ref == "" {
			bad(ep+".ref", "empty")
		} else {
			refs.pointsAt(bad, ep+".ref", e.Ref)
		}
		if _, ok := parsePlatform(e.Platform); e.Platform != "" && !ok {
			bad(ep+".platform", "%q is not os/architecture or os/architecture/variant", e.Platform)
		}
		if e.AttestationOf != "" {
			if e.Platform != "" {
				bad(ep, "platform and attestation_of are exclusive")
			}
			refs.pointsAt(bad, ep+".attestation_of", e.AttestationOf)
		}
	}
}

// checkRepeat checks repeat, every and that repeated versions get names of
// their own.
func (v FixtureVersion) checkRepeat(bad badFunc, vp string, agePlaceholder bool) {
	repeated := v.Repeat > 1
	switch {
	case v.Repeat < 0:
		bad(vp+".repeat", "negative")
	case repeated && v.Every == "" && !agePlaceholder:
		bad(vp+".every", "required with repeat, unless age has a placeholder such as {2*i}d")
	case repeated && v.Every != "" && agePlaceholder:
		bad(vp+".every", "exclusive with an age that has a placeholder")
	case !repeated && v.Every != "":
		bad(vp+".every", "only meaningful with repeat > 1")
	case repeated && v.Name != "" && !hasPlaceholder(v.Name):
		bad(vp+".name", "must contain {i} with repeat, or versions would share a name")
	}
	if v.Every != "" {
		if _, err := parseAge(v.Every); err != nil {
			bad(vp+".every", "%v", err)
		}
	}
}

// checkTime checks a time given as absKey or ageKey; an age with a
// placeholder is checked once filled in, by drafts.
func checkTime(bad badFunc, path, absKey, ageKey string, abs time.Time, age string, placeholder bool) {
	if !abs.IsZero() && age != "" {
		bad(path, "%s and %s are exclusive", absKey, ageKey)
	}
	if age != "" && !placeholder {
		if _, err := parseAge(age); err != nil {
			bad(path+"."+ageKey, "%v", err)
		}
	}
}

var dayUnits = regexp.MustCompile(`(\d+(?:\.\d+)?)([dw])`)

// parseAge reads a non-negative duration in Go syntax extended with d (24h)
// and w (7d): "36h", "10d", "1d12h", "2w".
func parseAge(s string) (time.Duration, error) {
	var convErr error
	expanded := dayUnits.ReplaceAllStringFunc(s, func(m string) string {
		sub := dayUnits.FindStringSubmatch(m)
		n, err := strconv.ParseFloat(sub[1], 64)
		if err != nil {
			convErr = err
			return m
		}
		hours := n * 24
		if sub[2] == "w" {
			hours *= 7
		}
		return strconv.FormatFloat(hours, 'f', -1, 64) + "h"
	})
	d, err := time.ParseDuration(expanded)
	if err != nil || convErr != nil {
		return 0, fmt.Errorf("invalid age %q (want e.g. 36h, 10d, 2w, 1d12h)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("invalid age %q: negative", s)
	}
	return d, nil
}

// resolve picks the absolute time or now minus the age; zero when neither.
// The age was checked by LoadFixture; a Fixture built in Go is checked here.
func resolve(now, abs time.Time, age string) (time.Time, error) {
	if age == "" {
		return abs, nil
	}
	d, err := parseAge(age)
	if err != nil {
		return time.Time{}, err
	}
	return now.Add(-d), nil
}

// Seed adds the fixture's tokens, orgs, users, packages and versions, with
// ages taken from the server clock's now. Versions of a package get their ids
// in created_at order, as on GitHub, unless the fixture's id_order is
// "listed". On error, what came before it stays.
func (s *Server) Seed(f *Fixture) error {
	if f == nil {
		return nil
	}
	if err := f.validate(); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	now := s.clock.Now()
	for _, t := range f.Tokens {
		s.AddToken(t.Token, Token{Login: t.Login, Scopes: t.Scopes, FineGrained: t.FineGrained})
	}
	for _, o := range f.Orgs {
		s.AddOrg(o.Login, o.ID, o.Admins...)
	}
	for _, u := range f.Users {
		s.AddUser(u.Login, u.ID)
	}
	for i, pk := range f.Packages {
		p := fmt.Sprintf("packages[%d]", i)
		created, err := resolve(now, pk.CreatedAt, pk.Age)
		if err != nil {
			return fmt.Errorf("seed %s: %w", p, err)
		}
		if err := s.AddPackage(pk.Owner, PackageSeed{
			Name: pk.Name, Type: pk.Type, Visibility: pk.Visibility, Repository: pk.Repository,
			CreatedAt: created, DockerConflict: pk.DockerConflict,
		}); err != nil {
			return fmt.Errorf("seed %s: %w", p, err)
		}
		drafts, err := pk.drafts(p)
		if err != nil {
			return fmt.Errorf("seed %w", err)
		}
		seeds := make([]seedVersion, 0, len(drafts))
		for _, d := range drafts {
			sv, err := d.at(now)
			if err != nil {
				return fmt.Errorf("seed %w", err)
			}
			seeds = append(seeds, sv)
		}
		if f.IDOrder != "listed" {
			slices.SortStableFunc(seeds, func(a, b seedVersion) int { return a.CreatedAt.Compare(b.CreatedAt) })
		}
		s.mu.Lock()
		for _, sv := range seeds {
			if _, err := s.addVersion(pk.Owner, pk.Type, pk.Name, sv.VersionSeed, sv.deletedAt); err != nil {
				s.mu.Unlock()
				return fmt.Errorf("seed %s: %w", sv.path, err)
			}
		}
		s.mu.Unlock()
	}
	return nil
}

type seedVersion struct {
	VersionSeed
	deletedAt *time.Time
	path      string
}

// draft is a version of a fixture package with its placeholders filled in
// and its manifest made, waiting only for the server's now.
type draft struct {
	VersionSeed
	path                      string
	ref                       string
	created, updated, deleted fixtureTime
}

// fixtureTime is a time given absolutely or as an age before now, less a
// repeat's shift. The zero value is no time.
type fixtureTime struct {
	abs   time.Time
	age   time.Duration
	ago   bool
	shift time.Duration
}

func (t fixtureTime) at(now time.Time) time.Time {
	if t.ago {
		return now.Add(-t.age - t.shift)
	}
	if t.abs.IsZero() {
		return t.abs
	}
	return t.abs.Add(-t.shift)
}

// at resolves the draft's times against now; a version without a creation
// time is created now.
func (d draft) at(now time.Time) (seedVersion, error) {
	sv := seedVersion{VersionSeed: d.VersionSeed, path: d.path}
	sv.CreatedAt = d.created.at(now)
	sv.UpdatedAt = d.updated.at(now)
	if deleted := d.deleted.at(now); !deleted.IsZero() {
		if deleted.Before(sv.CreatedAt) {
			return seedVersion{}, fmt.Errorf("%s: deleted before it was created", d.path)
		}
		sv.deletedAt = &deleted
	}
	return sv, nil
}

// drafts makes the package's versions in the order listed, a repeat's in
// the order of i. pkgPath ("packages[3]") prefixes the error's key path.
func (pk FixturePackage) drafts(pkgPath string) ([]draft, error) {
	var out []draft
	// refs are the descriptors of the versions made so far that have a ref
	// and a manifest.
	refs := map[string]Descriptor{}
	for j, v := range pk.Versions {
		path := fmt.Sprintf("%s.versions[%d]", pkgPath, j)
		var every time.Duration
		if v.Every != "" {
			var err error
			if every, err = parseAge(v.Every); err != nil {
				return nil, fmt.Errorf("%s.every: %w", path, err)
			}
		}
		n := max(1, v.Repeat)
		for i := 1; i <= n; i++ {
			d, err := v.draft(path, i, n, every*time.Duration(n-i), refs)
			if err != nil {
				return nil, err
			}
			if v.Ref != "" && len(d.Manifest) > 0 {
				refs[v.Ref] = Describe(d.MediaType, d.Manifest)
			}
			out = append(out, d)
		}
	}
	return out, nil
}

// draft makes the i-th of n versions of v (n is 1 without repeat), shift
// older than its given times.
func (v FixtureVersion) draft(path string, i, n int, shift time.Duration, refs map[string]Descriptor) (draft, error) {
	var err error
	fail := func(key string, e error) {
		if err == nil {
			err = fmt.Errorf("%s.%s: %w", path, key, e)
		}
	}
	text := func(key, s string) string {
		if n == 1 {
			return s
		}
		out, e := fill(s, i)
		if e != nil {
			fail(key, e)
		}
		return out
	}
	when := func(key string, abs time.Time, age string) fixtureTime {
		t := fixtureTime{abs: abs, shift: shift}
		if age = text(key, age); age != "" {
			a, e := parseAge(age)
			if e != nil {
				fail(key, e)
			}
			t.age, t.ago = a, true
		}
		return t
	}
	ref := func(key, name string) Descriptor {
		d, ok := refs[name]
		if !ok {
			fail(key, fmt.Errorf("no version above it with a manifest has ref %q", name))
		}
		return d
	}

	d := draft{path: path, ref: v.Ref}
	d.Name = text("name", v.Name)
	d.Tags = make([]string, 0, len(v.Tags))
	for k, t := range v.Tags {
		d.Tags = append(d.Tags, text(fmt.Sprintf("tags[%d]", k), t))
	}
	if v.SignatureOf != "" {
		signed := ref("signature_of", v.SignatureOf)
		d.Tags = append(d.Tags, strings.Replace(signed.Digest, ":", "-", 1)+".sig")
	}
	d.Downloads, d.MediaType = v.Downloads, v.MediaType
	d.created = when("age", v.CreatedAt, v.Age)
	if d.created.abs.IsZero() && !d.created.ago {
		d.created.ago = true // neither given: now
	}
	d.updated = when("updated_age", v.UpdatedAt, v.UpdatedAge)
	d.deleted = when("deleted_age", v.DeletedAt, v.DeletedAge)

	switch {
	case v.Manifest != "":
		d.Manifest = []byte(text("manifest", v.Manifest))
	case v.Image != nil:
		seed := text("image.seed", v.Image.Seed)
		sizes := make([]int64, len(v.Image.Layers))
		for k, l := range v.Image.Layers {
			key := fmt.Sprintf("image.layers[%d]", k)
			size, e := parseSize(text(key, l))
			if e != nil {
				fail(key, e)
			}
			sizes[k] = size
		}
		d.Manifest = ImageManifest(MediaOCIManifest, seed, sizes...)
	case len(v.Index) > 0:
		children := make([]Descriptor, 0, len(v.Index))
		for k, e := range v.Index {
			key := fmt.Sprintf("index[%d]", k)
			c := ref(key+".ref", e.Ref)
			if e.Platform != "" {
				p, ok := parsePlatform(e.Platform)
				if !ok {
					fail(key+".platform", fmt.Errorf("%q is not os/architecture or os/architecture/variant", e.Platform))
				}
				c.Platform = &p
			}
			if e.AttestationOf != "" {
				subject := ref(key+".attestation_of", e.AttestationOf)
				c.Platform = &Platform{OS: "unknown", Architecture: "unknown"}
				c.Annotations = map[string]string{
					"vnd.docker.reference.type":   "attestation-manifest",
					"vnd.docker.reference.digest": subject.Digest,
				}
			}
			children = append(children, c)
		}
		d.Manifest = Index(MediaOCIIndex, children...)
	}
	if len(d.Manifest) > 0 && d.Name != "" && d.Name != Digest(d.Manifest) {
		fail("name", fmt.Errorf("is not the manifest's digest %s", Digest(d.Manifest)))
	}
	return d, err
}

var sizeRE = regexp.MustCompile(`^(\d+)(KiB|MiB|GiB)?$`)

// parseSize reads a layer size: bytes, or a whole number of KiB, MiB or GiB.
func parseSize(s string) (int64, error) {
	m := sizeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("invalid size %q (want bytes or e.g. 4KiB, 30MiB, 1GiB)", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	shift := map[string]uint{"": 0, "KiB": 10, "MiB": 20, "GiB": 30}[m[2]]
	if err != nil || n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return n << shift, nil
}

// parsePlatform reads "os/architecture" or "os/architecture/variant".
func parsePlatform(s string) (Platform, bool) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || slices.Contains(parts, "") {
		return Platform{}, false
	}
	p := Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, true
}
