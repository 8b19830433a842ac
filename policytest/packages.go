package policytest

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ghprune/ghprune/policy"
)

var packageKeys = []string{"owner", "owner_type", "name", "package_type", "visibility", "versions"}

// packages decodes the synthetic packages.
func (d *decoder) packages(n *yaml.Node, f *File) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "packages", "expected a list of packages, got %s", describe(n))
		return
	}
	for i, c := range n.Content {
		if p := d.pkg(c, i); p != nil {
			f.Packages = append(f.Packages, p)
		}
	}
}

// pkg decodes packages[i]; nil when it is not a mapping.
func (d *decoder) pkg(n *yaml.Node, i int) *Package {
	path := fmt.Sprintf("packages[%d]", i)
	p := &Package{Index: i, Pos: Pos{n.Line, n.Column}, Visibility: "private", keys: map[string]Pos{}}
	var versions *yaml.Node
	ok := d.mapping(n, path, packageKeys, func(key string, v *yaml.Node) {
		p.keys[key] = Pos{v.Line, v.Column}
		kp := path + "." + key
		if key == "versions" {
			versions = v
			return
		}
		s, good := d.str(v, kp)
		if !good {
			return
		}
		d.setPackageString(p, key, s, v, kp)
	})
	if !ok {
		return nil
	}
	for _, key := range []string{"owner", "name", "package_type"} {
		if _, given := p.keys[key]; !given {
			d.add(p.Pos, path, "missing "+key)
		}
	}
	if versions == nil {
		d.add(p.Pos, path, "missing versions: a synthetic package needs at least one version")
		return p
	}
	d.versions(versions, path+".versions", p)
	return p
}

func (d *decoder) setPackageString(p *Package, key, s string, v *yaml.Node, path string) {
	switch key {
	case "owner":
		p.Owner = s
	case "name":
		p.Name = s
	case "owner_type":
		if !oneOf(s, "org", "user") {
			d.errorf(v, path, "must be org or user, got %s", quote(s))
			return
		}
		p.OwnerType = s
	case "package_type":
		if !oneOf(s, packageTypes...) {
			d.errorf(v, path, "must be one of %s, got %s", strings.Join(packageTypes, ", "), quote(s))
			return
		}
		p.Type = s
	case "visibility":
		if !oneOf(s, "public", "private", "internal") {
			d.errorf(v, path, "must be public, private or internal, got %s", quote(s))
			return
		}
		p.Visibility = s
	}
}

// versions decodes a synthetic package's versions and checks them
// together: names, tags and children.
func (d *decoder) versions(n *yaml.Node, path string, p *Package) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "expected a list of versions, got %s", describe(n))
		return
	}
	if len(n.Content) == 0 {
		d.errorf(n, path, "empty list: a synthetic package needs at least one version")
		return
	}
	for j, c := range n.Content {
		if j > MaxVersions {
			break // the bound is reported once, by checkFile
		}
		if v := d.version(c, fmt.Sprintf("%s[%d]", path, j), p); v != nil {
			p.Versions = append(p.Versions, v)
		}
	}
	d.checkVersions(path, p)
}

var versionKeys = []string{"name", "tags", "age", "id", "children"}

func (d *decoder) version(n *yaml.Node, path string, p *Package) *Version {
	v := &Version{Pos: Pos{n.Line, n.Column}, keys: map[string]Pos{}}
	ok := d.mapping(n, path, versionKeys, func(key string, val *yaml.Node) {
		v.keys[key] = Pos{val.Line, val.Column}
		kp := path + "." + key
		switch key {
		case "name":
			v.Name, _ = d.str(val, kp)
		case "tags":
			v.Tags, _ = d.strList(val, kp)
		case "children":
			v.Children, _ = d.strList(val, kp)
		case "id":
			v.ID, _ = d.id(val, kp)
		case "age":
			d.age(val, kp, v)
		}
	})
	if !ok {
		return nil
	}
	if _, given := v.keys["age"]; !given {
		d.add(v.Pos, path, "missing age: how long before the run's time the version was created (40d, 36h)")
	}
	return v
}

func (d *decoder) age(n *yaml.Node, path string, v *Version) {
	s, ok := d.str(n, path)
	if !ok {
		return
	}
	age, err := policy.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		d.errorf(n, path, "%s", cut(err.Error(), maxMessage))
		return
	}
	v.Age = age
}

// checkVersions checks what spans a package's versions: names are unique,
// tags belong to container packages and are on one version each, and
// children name childless versions of the package.
func (d *decoder) checkVersions(path string, p *Package) {
	names := map[string]*Version{}
	tags := map[string]bool{}
	for j, v := range p.Versions {
		vp := fmt.Sprintf("%s[%d]", path, j)
		d.checkName(vp, p, v, names)
		if len(v.Tags) > 0 && !p.container() {
			d.add(v.keys["tags"], vp+".tags", fmt.Sprintf("%s versions have no tags on GitHub Packages (only container and docker versions do)", p.Type))
		}
		for _, t := range v.Tags {
			if tags[t] {
				d.add(v.keys["tags"], vp+".tags", fmt.Sprintf("tag %s is on two versions; a tag names one version of a package", quote(t)))
			}
			tags[t] = true
		}
	}
	for j, v := range p.Versions {
		d.checkChildren(fmt.Sprintf("%s[%d].children", path, j), p, v, names)
	}
}

func (d *decoder) checkName(path string, p *Package, v *Version, names map[string]*Version) {
	_, given := v.keys["name"]
	switch {
	case !given && !p.container():
		d.add(v.Pos, path, "missing name: the version string (1.2.3)")
		return
	case !given:
		return // a container version cases name by tag or id
	case p.container() && strings.HasPrefix(v.Name, "sha256:"):
		d.add(v.keys["name"], path+".name", fmt.Sprintf("a synthetic container version is named by the digest of a manifest made for it; give a label instead, got %s", quote(v.Name)))
	case names[v.Name] != nil:
		d.add(v.keys["name"], path+".name", fmt.Sprintf("two versions are named %s", quote(v.Name)))
	}
	if v.Name != "" {
		names[v.Name] = v
	}
}

func (d *decoder) checkChildren(path string, p *Package, v *Version, names map[string]*Version) {
	if len(v.Children) == 0 {
		return
	}
	at := v.keys["children"]
	if p.Type != "container" {
		d.add(at, path, fmt.Sprintf("only container packages have manifests that refer to others, not %s", p.Type))
		return
	}
	for _, c := range v.Children {
		child := names[c]
		switch {
		case child == nil:
			d.add(at, path, fmt.Sprintf("no version of the package is named %s", quote(c)))
		case child == v:
			d.add(at, path, fmt.Sprintf("a version cannot be its own child, got %s", quote(c)))
		case len(child.Children) > 0:
			d.add(at, path, fmt.Sprintf("%s has children of its own; an index's children are images", quote(c)))
		}
	}
}
