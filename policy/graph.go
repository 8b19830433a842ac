package policy

import (
	"regexp"
	"slices"
	"strings"
)

// Manifest is what the graph step needs of one container version's
// manifest: the digests an index lists, the subject a referrer (signature,
// attestation, SBOM) is about, and the blobs it uses, for the storage
// estimate.
type Manifest struct {
	Children []string         // digests an index or manifest list refers to
	Subject  string           // the digest a referrer is about ("" if none)
	Blobs    map[string]int64 // config and layer digests with their sizes
}

// cosignTag recognizes cosign's tag scheme: sha256-<hex>.sig, .att, .sbom,
// and the bare sha256-<hex> of a bundle index, all naming their subject.
var cosignTag = regexp.MustCompile(`^sha256-([0-9a-f]{64})(\.sig|\.att|\.sbom)?$`)

// dependents maps a digest to the versions that depend on it: an index's
// children depend on the index, a referrer on its subject, a cosign tag on
// the digest it names. Keeping a version keeps its dependents. subjects
// maps a version to the subjects it is about (referrer subject, cosign tags).
func dependents(vs []*Version, ms map[string]*Manifest) (deps, subjects map[string][]string) {
	deps, subjects = map[string][]string{}, map[string][]string{}
	for _, v := range vs {
		if m := ms[v.Name]; m != nil {
			deps[v.Name] = append(deps[v.Name], m.Children...)
			if m.Subject != "" {
				deps[m.Subject] = append(deps[m.Subject], v.Name)
				subjects[v.Name] = append(subjects[v.Name], m.Subject)
			}
		}
		for _, t := range v.Tags {
			if subject, ok := cosignSubject(t); ok {
				deps[subject] = append(deps[subject], v.Name)
				subjects[v.Name] = append(subjects[v.Name], subject)
			}
		}
	}
	return deps, subjects
}

func cosignSubject(tag string) (string, bool) {
	if g := cosignTag.FindStringSubmatch(tag); g != nil {
		return "sha256:" + g[1], true
	}
	return "", false
}

// orphanable reports whether v may go with its deleted parent: untagged, or
// tagged only with cosign tags naming that parent. A tag anyone can pull
// (app:sha-abc-amd64) stays unless a rule selects it.
func orphanable(v *Version, parent string) bool {
	for _, t := range v.Tags {
		if s, ok := cosignSubject(t); !ok || s != parent {
			return false
		}
	}
	return true
}

// graph decides, in the graph step, by the manifests: versions a kept
// version depends on are kept, the dependents of deleted versions that no
// rule decided go with them, and each deletion with a deleted parent names
// it (Decision.Parents) so parents are deleted first and deferred together.
func (st *pkgState) graph() {
	ds := st.ds
	// A referrer or signature whose subject is not a version of this
	// package (cosign's COSIGN_REPOSITORY puts signatures in another
	// package) may belong to a kept image elsewhere: keep it.
	for i := range ds {
		if ds[i].Action != Delete {
			continue
		}
		for _, subj := range st.subjects[ds[i].Version.Name] {
			if _, ok := st.byName[subj]; !ok {
				st.set(i, Keep, ReferencedByRuleID(subj), "refers to "+short(subj)+", which is not an active version of this package: kept, as it may be a kept image elsewhere; was "+string(ds[i].Rule))
				break
			}
		}
	}
	referenced := st.keepClosure()
	queue := []int{}
	for i := range ds {
		if ds[i].Action == Delete {
			queue = append(queue, i)
		}
	}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, child := range st.deps[ds[p].Version.Name] {
			c, ok := st.byName[child]
			if !ok || c == p {
				continue
			}
			parent := ds[p].Version.Name
			switch {
			case ds[c].Action == Delete:
				if !slices.Contains(ds[c].Parents, parent) {
					ds[c].Parents = append(ds[c].Parents, parent)
				}
			case ds[c].Rule == RuleNoRule && !referenced[c] && orphanable(ds[c].Version, parent):
				st.set(c, Delete, OrphanedByRuleID(parent), "belongs to "+short(parent)+", which is deleted ("+string(ds[p].Rule)+"), and no kept version refers to it")
				ds[c].Parents = []string{parent}
				queue = append(queue, c)
			}
		}
	}
}

// keepClosure keeps everything kept versions depend on, transitively, and
// returns which versions are so referenced.
func (st *pkgState) keepClosure() map[int]bool {
	ds := st.ds
	referenced := map[int]bool{}
	queue := []int{}
	for i := range ds {
		if ds[i].Action == Keep {
			queue = append(queue, i)
		}
	}
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		for _, child := range st.deps[ds[k].Version.Name] {
			c, ok := st.byName[child]
			if !ok || c == k || referenced[c] {
				continue
			}
			referenced[c] = true
			if ds[c].Action == Delete {
				parent := ds[k].Version.Name
				st.set(c, Keep, ReferencedByRuleID(parent), "referenced by kept "+short(parent)+" ("+string(ds[k].Rule)+"); was "+string(ds[c].Rule))
			}
			queue = append(queue, c)
		}
	}
	return referenced
}

// FreedBytes estimates what deleting ds would free: the blobs of deleted
// manifests that no kept manifest still uses. Blobs shared across packages
// are counted here anyway: the estimate is per package, an upper bound.
func FreedBytes(ds []Decision, ms map[string]*Manifest) int64 {
	kept := map[string]bool{}
	for _, d := range ds {
		if m := ms[d.Version.Name]; m != nil && d.Action == Keep {
			for b := range m.Blobs {
				kept[b] = true
			}
		}
	}
	freed := map[string]int64{}
	for _, d := range ds {
		if m := ms[d.Version.Name]; m != nil && d.Action == Delete {
			for b, n := range m.Blobs {
				if !kept[b] {
					freed[b] = n
				}
			}
		}
	}
	var total int64
	for _, n := range freed {
		total += n
	}
	return total
}

func short(digest string) string {
	if strings.HasPrefix(digest, "sha256:") && len(digest) > 19 {
		return digest[:19]
	}
	return digest
}
