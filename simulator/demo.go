package simulator

import (
	_ "embed"
	"fmt"
	"strings"
)

// demoFixture is the world of `ghprune demo`.
//
//go:embed worlds/demo.yaml
var demoFixture string

// DemoToken is the token of the demo world's own account, octocat, as
// worlds/demo.yaml lists it. It is not a GitHub credential.
const DemoToken = "ghp_demo0000000000000000000000000000000"

// DemoWorld is what SeedDemo seeded, for the demo to narrate.
type DemoWorld struct {
	// Packages are the seeded packages in the fixture's order.
	Packages []DemoPackage
	// KeptChild is the digest of an untagged platform manifest (linux/amd64)
	// of acme-corp's multi-platform image platform/api v3.0.0: "untagged
	// older than 7d" matches it, and the graph keeps it for its index.
	KeptChild string
}

// DemoPackage names a package of the demo world.
type DemoPackage struct {
	Owner, Type, Name string
}

// SeedDemo seeds s with the demo world (worlds/demo.yaml): the org
// acme-corp with container, npm and maven packages, among them 1,200 CI
// cache images, multi-platform images with attestations, a cosign signature
// and a public version GitHub refuses to delete; the token owner octocat
// with a devcontainer image; and another user, hubot, with a public npm
// package. Its ids are pinned: the first version is 1000001 on a new Server.
func SeedDemo(s *Server) (DemoWorld, error) {
	f, err := LoadFixture(strings.NewReader(demoFixture))
	if err != nil {
		return DemoWorld{}, fmt.Errorf("seed demo: %w", err)
	}
	if err := s.Seed(f); err != nil {
		return DemoWorld{}, fmt.Errorf("seed demo: %w", err)
	}
	var w DemoWorld
	for _, p := range f.Packages {
		w.Packages = append(w.Packages, DemoPackage{Owner: p.Owner, Type: p.Type, Name: p.Name})
	}
	if w.KeptChild, err = f.digest("acme-corp", "container", "platform/api", "v3-amd64"); err != nil {
		return DemoWorld{}, fmt.Errorf("seed demo: %w", err)
	}
	return w, nil
}

// digest returns the digest of the manifest of the version with ref in the
// package.
func (f *Fixture) digest(owner, packageType, name, ref string) (string, error) {
	for i, pk := range f.Packages {
		if pk.Owner != owner || pk.Type != packageType || pk.Name != name {
			continue
		}
		drafts, err := pk.drafts(fmt.Sprintf("packages[%d]", i))
		if err != nil {
			return "", err
		}
		for _, d := range drafts {
			if d.ref == ref && len(d.Manifest) > 0 {
				return Digest(d.Manifest), nil
			}
		}
	}
	return "", fmt.Errorf("no version of %s/%s/%s with a manifest has ref %q", owner, packageType, name, ref)
}
