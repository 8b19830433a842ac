package policy

// RuleID names what decided a version: a fixed protection or limit
// (RuleProtectedTag, RuleNoRule…) or a member of a family that carries an
// argument, the rule's name or a digest (keep:<name>, delete:<name>,
// referenced-by:<digest>, orphaned-by:<digest>). It is what reports count
// kept versions by, what the journal records and what alerts match, so
// its values are part of ghprune's interface; Steps lists which step sets
// which.
type RuleID string

// Fixed rule ids, in the order of the steps that set them (see Steps).
const (
	// RuleListingChanged keeps every version of a package whose listing
	// changed while it was paged.
	RuleListingChanged RuleID = "listing-changed"
	// RuleInvalidTime keeps a version whose date the decision needs is
	// missing, does not parse or lies in the future: its age is unknown.
	RuleInvalidTime        RuleID = "invalid-time"
	RuleProtectedTag       RuleID = "protected:tag"
	RuleProtectedVersion   RuleID = "protected:version"
	RuleProtectedNewer     RuleID = "protected:newer_than"
	RuleDownloadLimit      RuleID = "download-limit"
	RuleNoRule             RuleID = "no-rule"
	RuleManifestUnreadable RuleID = "manifest-unreadable"
	RuleProtectedKeepLeast RuleID = "protected:keep_at_least"
	RuleLastVersion        RuleID = "last-version"
	RuleCircuitBreaker     RuleID = "circuit-breaker"
	RuleDeferred           RuleID = "deferred"
)

// Rule families: a decision's rule is never one of these alone but one of
// them, a colon and an argument (see KeepRuleID and the others). Compare a
// decision's rule with them through RuleID.Kind.
const (
	RuleKeep         RuleID = "keep"          // keep:<rule name>
	RuleDelete       RuleID = "delete"        // delete:<rule name>
	RuleReferencedBy RuleID = "referenced-by" // referenced-by:<digest of the kept version referring to it>
	RuleOrphanedBy   RuleID = "orphaned-by"   // orphaned-by:<digest of the deleted version it belongs to>
)

// ruleFamilies are the rule families, for Kind and Arg.
var ruleFamilies = [...]RuleID{RuleKeep, RuleDelete, RuleReferencedBy, RuleOrphanedBy}

// KeepRuleID is the rule id of a version the keep rule named name decided.
func KeepRuleID(name string) RuleID { return RuleKeep + ":" + RuleID(name) }

// DeleteRuleID is the rule id of a version the delete rule named name decided.
func DeleteRuleID(name string) RuleID { return RuleDelete + ":" + RuleID(name) }

// ReferencedByRuleID is the rule id of a version kept because the kept
// version digest refers to it (an index its child, a signature's subject…).
func ReferencedByRuleID(digest string) RuleID { return RuleReferencedBy + ":" + RuleID(digest) }

// OrphanedByRuleID is the rule id of a version deleted with the deleted
// version digest it belongs to.
func OrphanedByRuleID(digest string) RuleID { return RuleOrphanedBy + ":" + RuleID(digest) }

// Kind returns r's family (RuleKeep for keep:main) or, for a fixed rule
// id, r itself: it is what to compare a decision's rule with. Only the
// families are recognised, so protected:tag is its own kind.
func (r RuleID) Kind() RuleID {
	if k, _, ok := r.split(); ok {
		return k
	}
	return r
}

// Arg returns the argument of a family member (main for keep:main, the
// digest for referenced-by:<digest>), or "" for a fixed rule id.
func (r RuleID) Arg() string {
	_, arg, _ := r.split()
	return arg
}

func (r RuleID) split() (kind RuleID, arg string, ok bool) {
	for _, k := range ruleFamilies {
		if len(r) > len(k) && r[len(k)] == ':' && r[:len(k)] == k {
			return k, string(r[len(k)+1:]), true
		}
	}
	return "", "", false
}
