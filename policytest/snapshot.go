package policytest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ghprune/ghprune/policy"
	"github.com/ghprune/ghprune/snapshot"
)

// NeedsAllManifests reports whether a snapshot for the suite must hold
// the manifests of every container package: when a case about a package
// read from GitHub is decided at another time (at:), whose plan may
// delete what a plan now does not, and so read other manifests. A nil
// suite needs none.
func (s *Suite) NeedsAllManifests() bool {
	if s == nil {
		return false
	}
	for _, b := range s.cases {
		if b.synth == nil && b.At != "" {
			return true
		}
	}
	return false
}

// Unsynthetic returns the cases that name packages no synthetic package
// stands for, and their policies in the config's order: without a snapshot
// file, those packages are read from GitHub.
func (s *Suite) Unsynthetic() ([]*policy.Policy, []*Case) {
	var cases []*Case
	need := map[*policy.Policy]bool{}
	for _, b := range s.cases {
		if b.synth == nil {
			cases = append(cases, b.Case)
			need[b.pol] = true
			for _, o := range s.overlapping(b.pol) {
				need[o] = true // a run plans them too: so must the tests
			}
		}
	}
	var pols []*policy.Policy
	for _, p := range s.Config.Policies {
		if need[p] {
			pols = append(pols, p)
		}
	}
	return pols, cases
}

// Snapshot adds the synthetic packages to base, as of now (the run's
// time), and returns the snapshot the cases are planned from. base is
// left as it was (the same reading may serve a plan and a diff); nil
// starts an empty snapshot of the config's API. A synthetic
// package replaces one of the same owner, type and name in base.
//
// Each synthetic version is created its age before now. Versions are listed
// newest first (in file order among equal ages), and those without an id
// get one above every id of base and of the file, the newest the highest,
// as GitHub numbers them. A container version is named by the digest of
// an OCI manifest made for it (an image, or an index of its children),
// which the snapshot holds so that the graph step can read it.
func (s *Suite) Snapshot(base *snapshot.Snapshot, now time.Time) *snapshot.Snapshot {
	if base == nil {
		base = snapshot.New(s.Config.GitHub.APIURL, now)
	} else {
		base = cloneTop(base)
	}
	if base.Manifests == nil {
		base.Manifests = map[string]snapshot.Manifest{}
	}
	s.ids = map[*Version]int64{}
	next := maxID(base, s.File) + 1
	for _, p := range s.File.Packages {
		kind := s.ownerType[p]
		if kind == "user" && base.Login != "" && strings.EqualFold(base.Login, p.Owner) {
			kind = "self" // the token's own account, as the planner addresses it
		}
		removePackage(base, p, kind)
		sp := snapshot.Package{OwnerKind: kind, Owner: p.Owner, Type: p.Type, Name: p.Name, Visibility: p.Visibility,
			VersionCount: len(p.Versions)}
		sp.Versions, next = s.versions(base, p, now, next)
		base.Packages = append(base.Packages, sp)
		listPackage(base, sp)
	}
	s.snap = base
	return base
}

// cloneTop copies what Snapshot changes of a snapshot: its lists of
// packages and listings, and its map of manifests. Versions and manifest
// bodies are shared, never written.
func cloneTop(b *snapshot.Snapshot) *snapshot.Snapshot {
	c := *b
	c.Packages = slices.Clone(b.Packages)
	c.Listings = make([]snapshot.Listing, len(b.Listings))
	for i, l := range b.Listings {
		l.Packages = slices.Clone(l.Packages)
		c.Listings[i] = l
	}
	c.Manifests = maps.Clone(b.Manifests)
	return &c
}

// maxID is the highest version id of base and of the file.
func maxID(base *snapshot.Snapshot, f *File) int64 {
	var m int64
	for _, p := range base.Packages {
		for _, v := range p.Versions {
			m = max(m, v.ID)
		}
	}
	for _, p := range f.Packages {
		for _, v := range p.Versions {
			m = max(m, v.ID)
		}
	}
	return m
}

// versions makes the snapshot's versions of p, newest first, assigning
// ids from next; it returns the next id free.
func (s *Suite) versions(base *snapshot.Snapshot, p *Package, now time.Time, next int64) ([]snapshot.Version, int64) {
	order := slices.Clone(p.Versions)
	slices.SortStableFunc(order, func(a, b *Version) int {
		switch {
		case a.Age < b.Age:
			return -1
		case a.Age > b.Age:
			return 1
		}
		return 0
	})
	for i := len(order) - 1; i >= 0; i-- {
		v := order[i]
		id := v.ID
		if id == 0 {
			id, next = next, next+1
		}
		s.ids[v] = id
	}
	names := containerNames(base, p)
	out := make([]snapshot.Version, len(order))
	for i, v := range order {
		created := now.Add(-time.Duration(v.Age)).UTC()
		sv := snapshot.Version{ID: s.ids[v], Name: v.Name, CreatedAt: &created, UpdatedAt: &created}
		if p.container() {
			sv.Name, sv.Tags = names[v], append([]string{}, v.Tags...)
		}
		out[i] = sv
	}
	return out, next
}

// Media types of the manifests made for synthetic container versions.
const (
	mediaImage  = "application/vnd.oci.image.manifest.v1+json"
	mediaIndex  = "application/vnd.oci.image.index.v1+json"
	mediaConfig = "application/vnd.oci.image.config.v1+json"
	mediaLayer  = "application/vnd.oci.image.layer.v1.tar+gzip"
)

type descriptor struct {
	MediaType string            `json:"mediaType"`
	Digest    string            `json:"digest"`
	Size      int64             `json:"size"`
	Platform  map[string]string `json:"platform,omitempty"`
}

type manifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	Config        *descriptor       `json:"config,omitempty"`
	Layers        []descriptor      `json:"layers,omitempty"`
	Manifests     []descriptor      `json:"manifests,omitempty"`
	Annotations   map[string]string `json:"annotations"`
}

// containerNames makes a manifest for each version of a container
// package, keeps it in base and returns the versions' names: the digests.
// Images come first, so that an index can name its children's digests.
// Each manifest is unique to its package and version (an annotation says
// which), and an image has one layer of 1 MiB.
func containerNames(base *snapshot.Snapshot, p *Package) map[*Version]string {
	if !p.container() {
		return nil
	}
	names := map[*Version]string{}
	byLabel := map[string]*Version{}
	for _, v := range p.Versions {
		if v.Name != "" {
			byLabel[v.Name] = v
		}
	}
	sizes := map[*Version]int64{}
	put := func(v *Version, j int, m manifest) {
		m.SchemaVersion = 2
		m.Annotations = map[string]string{"org.ghprune.test.version": p.Owner + "/" + p.Name + "#" + itoa(j) + " " + v.Name}
		body, _ := json.Marshal(m) // plain structs: cannot fail
		d := digest(body)
		names[v], sizes[v] = d, int64(len(body))
		if p.Type == "container" {
			base.Manifests[d] = snapshot.Manifest{MediaType: m.MediaType, Body: body}
		}
	}
	for j, v := range p.Versions {
		if len(v.Children) == 0 {
			seed := p.Owner + "/" + p.Name + "#" + itoa(j)
			put(v, j, manifest{MediaType: mediaImage,
				Config: &descriptor{MediaType: mediaConfig, Digest: digest([]byte("config " + seed)), Size: 512},
				Layers: []descriptor{{MediaType: mediaLayer, Digest: digest([]byte("layer " + seed)), Size: 1 << 20}}})
		}
	}
	for j, v := range p.Versions {
		if len(v.Children) > 0 {
			m := manifest{MediaType: mediaIndex, Manifests: []descriptor{}}
			for _, c := range v.Children {
				child := byLabel[c]
				m.Manifests = append(m.Manifests, descriptor{MediaType: mediaImage, Digest: names[child], Size: sizes[child],
					Platform: map[string]string{"architecture": "amd64", "os": "linux"}})
			}
			put(v, j, m)
		}
	}
	return names
}

func itoa(i int) string { return strconv.Itoa(i) }

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// removePackage drops from base the package p stands for, listed under
// kind, and its place in the listings.
func removePackage(base *snapshot.Snapshot, p *Package, kind string) {
	same := func(ownerKind, owner, typ, name string) bool {
		return sameOwner(ownerKind, owner, kind, p.Owner) && typ == p.Type && name == p.Name
	}
	base.Packages = slices.DeleteFunc(base.Packages, func(q snapshot.Package) bool { return same(q.OwnerKind, q.Owner, q.Type, q.Name) })
	for i := range base.Listings {
		l := &base.Listings[i]
		l.Packages = slices.DeleteFunc(l.Packages, func(q snapshot.ListedPackage) bool { return same(l.OwnerKind, l.Owner, l.Type, q.Name) })
	}
}

// sameOwner reports whether two owners of a snapshot are one: the token's
// own account is recorded without its login.
func sameOwner(kindA, ownerA, kindB, ownerB string) bool {
	if kindA == "self" || kindB == "self" {
		return kindA == kindB
	}
	return kindA == kindB && strings.EqualFold(ownerA, ownerB)
}

// listPackage adds p to the listings of its owner and type that would
// list it (unfiltered, or filtered by its visibility), and adds an
// unfiltered listing when there is none.
func listPackage(base *snapshot.Snapshot, p snapshot.Package) {
	entry := snapshot.ListedPackage{Name: p.Name, Visibility: p.Visibility, VersionCount: p.VersionCount}
	unfiltered := false
	for i := range base.Listings {
		l := &base.Listings[i]
		if !sameOwner(l.OwnerKind, l.Owner, p.OwnerKind, p.Owner) || l.Type != p.Type {
			continue
		}
		if l.Visibility == "" || l.Visibility == p.Visibility {
			l.Packages = append(l.Packages, entry)
		}
		unfiltered = unfiltered || l.Visibility == ""
	}
	if !unfiltered {
		base.Listings = append(base.Listings, snapshot.Listing{OwnerKind: p.OwnerKind, Owner: p.Owner, Type: p.Type,
			Packages: []snapshot.ListedPackage{entry}})
	}
}
