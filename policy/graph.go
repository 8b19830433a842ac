package policy

import (
	"regexp"
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

// Rule labels of the graph step.
const (
	RuleReferencedBy       = "referenced-by" // referenced-by:<digest>
	RuleOrphanedBy         = "orphaned-by"   // orphaned-by:<digest>
	RuleManifestUnreadable = "manifest-unreadable"
)

// cosignTag recognizes cosign's tag scheme: sha256-<hex>.sig, .att, .sbom,
// and the bare sha256-<hex> of a bundle index, all naming their subject.
var cosignTag = regexp.MustCompile(`^sha256-([0-9a-f]{64})(\.sig|\.att|\.sbom)?$`)

// dependents maps a digest to the versions that depend on it: an index's
// children depend on the index, a referrer on its subject, a cosign tag on
// the digest it names. Keeping a version keeps its dependents.
func dependents(vs []*Version, ms map[string]*Manifest) map[string][]string {
	deps := map[string][]string{}
	for _, v := range vs {
		if m := ms[v.Name]; m != nil {
			deps[v.Name] = append(deps[v.Name], m.Children...)
			if m.Subject != "" {
				deps[m.Subject] = append(deps[m.Subject], v.Name)
			}
		}
		for _, t := range v.Tags {
			if g := cosignTag.FindStringSubmatch(t); g != nil {
				subject := "sha256:" + g[1]
				deps[subject] = append(deps[subject], v.Name)
			}
		}
	}
	return deps
}

// graph applies step 5 to ds (container packages only): versions a kept
// version depends on are kept, the dependents of deleted versions that no
// rule decided go with them, and each deletion with a deleted parent names
// it (Decision.Parent) so parents are deleted first and deferred together.
func graph(ds []Decision, byName map[string]int, deps map[string][]string, set func(i int, a Action, rule, reason string)) {
	referenced := keepClosure(ds, byName, deps, set)
	queue := []int{}
	for i := range ds {
		if ds[i].Action == Delete {
			queue = append(queue, i)
		}
	}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, child := range deps[ds[p].Version.Name] {
			c, ok := byName[child]
			if !ok || c == p {
				continue
			}
			switch {
			case ds[c].Action == Delete && ds[c].Parent == "":
				ds[c].Parent = ds[p].Version.Name
			case ds[c].Rule == RuleNoRule && !referenced[c]:
				parent := ds[p].Version.Name
				set(c, Delete, RuleOrphanedBy+":"+parent, "belongs to "+short(parent)+", which is deleted ("+ds[p].Rule+"), and no kept version refers to it")
				ds[c].Parent = parent
				queue = append(queue, c)
			}
		}
	}
}

// keepClosure keeps everything kept versions depend on, transitively, and
// returns which versions are so referenced.
func keepClosure(ds []Decision, byName map[string]int, deps map[string][]string, set func(i int, a Action, rule, reason string)) map[int]bool {
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
		for _, child := range deps[ds[k].Version.Name] {
			c, ok := byName[child]
			if !ok || c == k || referenced[c] {
				continue
			}
			referenced[c] = true
			if ds[c].Action == Delete {
				parent := ds[k].Version.Name
				set(c, Keep, RuleReferencedBy+":"+parent, "referenced by kept "+short(parent)+" ("+ds[k].Rule+"); was "+ds[c].Rule)
				ds[c].Parent = ""
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
