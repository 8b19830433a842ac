package simulator

import (
	"errors"
	"fmt"
	"io"
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
	// Repeat makes this many versions; the i-th (from 1) is Every*(Repeat-i)
	// older than the given time, so the highest i is the newest, and "{i}" in
	// Name, Tags and Manifest is replaced by i.
	Repeat int    `yaml:"repeat"`
	Every  string `yaml:"every"`
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

func (f *Fixture) validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
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
	for i, pk := range f.Packages {
		p := fmt.Sprintf("packages[%d]", i)
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
		checkTime(bad, p, "created_at", "age", pk.CreatedAt, pk.Age)
		digest := pk.Type == "container" || pk.Type == "docker"
		for j, v := range pk.Versions {
			vp := fmt.Sprintf("%s.versions[%d]", p, j)
			if v.Name == "" && !digest {
				bad(vp+".name", "empty (only container and docker versions may omit it)")
			}
			checkTime(bad, vp, "created_at", "age", v.CreatedAt, v.Age)
			checkTime(bad, vp, "updated_at", "updated_age", v.UpdatedAt, v.UpdatedAge)
			checkTime(bad, vp, "deleted_at", "deleted_age", v.DeletedAt, v.DeletedAge)
			if v.Downloads < 0 {
				bad(vp+".downloads", "negative")
			}
			switch {
			case v.Manifest != "" && !digest:
				bad(vp+".manifest", "only container and docker versions have one")
			case v.Manifest == "" && v.MediaType != "":
				bad(vp+".media_type", "needs a manifest")
			case v.Manifest != "" && v.Repeat > 1 && !strings.Contains(v.Manifest, "{i}"):
				bad(vp+".manifest", "must contain {i} with repeat, or versions would share a digest")
			case v.Manifest != "" && v.Repeat <= 1 && v.Name != "" && v.Name != Digest([]byte(v.Manifest)):
				bad(vp+".name", "is not the manifest's digest %s", Digest([]byte(v.Manifest)))
			}
			switch {
			case v.Repeat < 0:
				bad(vp+".repeat", "negative")
			case v.Repeat > 1 && v.Every == "":
				bad(vp+".every", "required with repeat")
			case v.Repeat <= 1 && v.Every != "":
				bad(vp+".every", "only meaningful with repeat > 1")
			case v.Repeat > 1 && v.Name != "" && !strings.Contains(v.Name, "{i}"):
				bad(vp+".name", "must contain {i} with repeat, or versions would share a name")
			}
			if v.Every != "" {
				if _, err := parseAge(v.Every); err != nil {
					bad(vp+".every", "%v", err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

func checkTime(bad func(string, string, ...any), path, absKey, ageKey string, abs time.Time, age string) {
	if !abs.IsZero() && age != "" {
		bad(path, "%s and %s are exclusive", absKey, ageKey)
	}
	if age != "" {
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
// in created_at order, as on GitHub. On error, what came before it stays.
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
		seeds, err := expandVersions(now, p, pk.Versions)
		if err != nil {
			return fmt.Errorf("seed %w", err)
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

// expandVersions resolves times and repeats, and orders the versions oldest
// first so that ids grow with created_at.
func expandVersions(now time.Time, pkgPath string, vs []FixtureVersion) ([]seedVersion, error) {
	var out []seedVersion
	for j, v := range vs {
		path := fmt.Sprintf("%s.versions[%d]", pkgPath, j)
		created, err := resolve(now, v.CreatedAt, v.Age)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if created.IsZero() {
			created = now
		}
		updated, err := resolve(now, v.UpdatedAt, v.UpdatedAge)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		deleted, err := resolve(now, v.DeletedAt, v.DeletedAge)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		var every time.Duration
		if v.Every != "" {
			if every, err = parseAge(v.Every); err != nil {
				return nil, fmt.Errorf("%s.every: %w", path, err)
			}
		}
		n := max(1, v.Repeat)
		for i := 1; i <= n; i++ {
			shift := every * time.Duration(n-i)
			sv := seedVersion{path: path, VersionSeed: VersionSeed{
				Tags: make([]string, 0, len(v.Tags)), CreatedAt: created.Add(-shift), Downloads: v.Downloads,
			}}
			sv.Name, sv.MediaType = v.Name, v.MediaType
			manifest := v.Manifest
			if n > 1 {
				sv.Name = strings.ReplaceAll(v.Name, "{i}", strconv.Itoa(i))
				manifest = strings.ReplaceAll(manifest, "{i}", strconv.Itoa(i))
			}
			if manifest != "" {
				sv.Manifest = []byte(manifest)
			}
			for _, t := range v.Tags {
				if n > 1 {
					t = strings.ReplaceAll(t, "{i}", strconv.Itoa(i))
				}
				sv.Tags = append(sv.Tags, t)
			}
			if !updated.IsZero() {
				sv.UpdatedAt = updated.Add(-shift)
			}
			if !deleted.IsZero() {
				d := deleted.Add(-shift)
				if d.Before(sv.CreatedAt) {
					return nil, fmt.Errorf("%s: deleted before it was created", path)
				}
				sv.deletedAt = &d
			}
			out = append(out, sv)
		}
	}
	slices.SortStableFunc(out, func(a, b seedVersion) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}
