package githubapi

import (
	"fmt"
	"time"
)

// OwnerKind says which of GitHub's three URL families an owner's packages live
// under. The zero value is deliberately invalid so that a forgotten Kind is an
// error rather than a silent request against an organization.
type OwnerKind int

const (
	// OwnerOrg is an organization: paths start /orgs/{name}.
	OwnerOrg OwnerKind = iota + 1
	// OwnerUser is another user's account: paths start /users/{name}.
	OwnerUser
	// OwnerSelf is the token's own account: paths start /user, and Name is unused.
	// GitHub serves some endpoints (deleted versions of private packages) only here.
	OwnerSelf
)

// String returns "org", "user" or "self".
func (k OwnerKind) String() string {
	switch k {
	case OwnerOrg:
		return "org"
	case OwnerUser:
		return "user"
	case OwnerSelf:
		return "self"
	default:
		return fmt.Sprintf("OwnerKind(%d)", int(k))
	}
}

// Owner names whose packages a call addresses.
type Owner struct {
	Kind OwnerKind
	// Name is the organization or user login; ignored for OwnerSelf.
	Name string
}

// Org returns the Owner for organization name.
func Org(name string) Owner { return Owner{Kind: OwnerOrg, Name: name} }

// User returns the Owner for the user account name.
func User(name string) Owner { return Owner{Kind: OwnerUser, Name: name} }

// Self returns the Owner for the token's own account.
func Self() Owner { return Owner{Kind: OwnerSelf} }

// String returns a short human form for logs and errors, e.g. "org acme",
// "user octocat" or "authenticated user".
func (o Owner) String() string {
	switch o.Kind {
	case OwnerOrg:
		return "org " + o.Name
	case OwnerUser:
		return "user " + o.Name
	case OwnerSelf:
		return "authenticated user"
	default:
		return fmt.Sprintf("%s %s", o.Kind, o.Name)
	}
}

// State selects active or deleted (restorable) versions in ListVersions.
type State string

const (
	// StateActive lists the versions that exist; GitHub's default.
	StateActive State = "active"
	// StateDeleted lists versions deleted within the 30-day restore window.
	StateDeleted State = "deleted"
)

// Operation is what a token is checked for by CheckScopes.
type Operation int

const (
	// OpRead needs read:packages.
	OpRead Operation = iota + 1
	// OpDelete needs read:packages and delete:packages.
	OpDelete
	// OpRestore needs read:packages and write:packages.
	OpRestore
)

// String returns "read", "delete" or "restore".
func (o Operation) String() string {
	switch o {
	case OpRead:
		return "read"
	case OpDelete:
		return "delete"
	case OpRestore:
		return "restore"
	default:
		return fmt.Sprintf("Operation(%d)", int(o))
	}
}

// Rate is the primary rate limit as of the last response that carried the
// x-ratelimit-* headers. Known is false until such a response arrived (and
// stays false on GHES with rate limiting switched off).
type Rate struct {
	Limit     int
	Remaining int
	Used      int
	// Reset is when the window ends and Remaining goes back to Limit.
	Reset time.Time
	// Resource is the bucket the request was charged to, e.g. "core".
	Resource string
	Known    bool
}

// Attempt describes one HTTP attempt, for metrics. Config.Observe receives one
// after every attempt, including the ones that are retried.
type Attempt struct {
	// Op is a fixed, low-cardinality operation name fit for a metric label:
	// identity, list_packages, get_package, list_versions, get_version,
	// delete_version, restore_version.
	Op     string
	Method string
	// Status is the HTTP status (304 for a conditional hit), 0 on a network error.
	Status   int
	Duration time.Duration
	// Rate is what this response's headers said; Known is false if they said nothing.
	Rate Rate
	// Retry is true when another attempt of the same request follows.
	Retry bool
	// Wait is how long the client will wait before that attempt.
	Wait time.Duration
	// SecondaryLimited is true when this attempt hit a secondary rate limit.
	SecondaryLimited bool
}

// Package is a package as GitHub lists it, reduced to what ghprune uses.
type Package struct {
	ID           int64
	Name         string
	PackageType  string
	Visibility   string
	VersionCount int
	CreatedAt    time.Time
	UpdatedAt    time.Time
	OwnerLogin   string
	HTMLURL      string
}

// Version is one package version. For containers Name is the manifest digest.
type Version struct {
	ID   int64
	Name string
	// Tags are the container tags (metadata.container.tags) or docker tags
	// (metadata.docker.tag or .tags); nil for other package types, and empty but
	// non-nil for an untagged container version.
	Tags []string
	// CreatedAt and UpdatedAt are zero when GitHub sent no valid RFC 3339
	// timestamp; RawCreatedAt and RawUpdatedAt then say what it sent.
	CreatedAt time.Time
	UpdatedAt time.Time
	// RawCreatedAt and RawUpdatedAt are the JSON values of created_at and
	// updated_at exactly as received (`null`, `""`, `"yesterday"`) when they
	// were not valid RFC 3339 timestamps; empty when they were, and when the
	// field was absent. A version whose age is unknown must be kept.
	RawCreatedAt string
	RawUpdatedAt string
	// DeletedAt is set on versions listed with StateDeleted when GitHub gives it.
	DeletedAt      *time.Time
	HTMLURL        string
	PackageHTMLURL string
}

// ListVersionsOptions narrows and bounds ListVersions.
type ListVersionsOptions struct {
	// State is StateActive or StateDeleted; "" means active.
	State State
	// VersionCount is the package's version_count as GitHub last reported it;
	// when positive, the walk fails with ErrPagination after more pages than
	// it implies plus a margin (10% of those pages, at least 2) for versions
	// pushed meanwhile. Zero or negative means unknown: the hard cap of
	// 10,000 pages applies. It is ignored for StateDeleted, since
	// version_count counts active versions only.
	VersionCount int
}

// VersionList is a package's versions as one complete walk returned them.
type VersionList struct {
	// Versions are unique by ID, in listing order.
	Versions []Version
	// Pages is how many pages the walk read.
	Pages int
	// Duplicates counts versions seen again on a later page: the listing
	// shifted while it was paged (versions pushed meanwhile push older ones
	// onto later pages), so it is not one consistent snapshot.
	Duplicates int
}

// Identity is who the token belongs to and what it may do.
type Identity struct {
	// Login is empty when GitHub would not say (an Actions GITHUB_TOKEN).
	Login string
	// Scopes are the classic scopes from X-OAuth-Scopes, as GitHub normalised
	// them (an implied scope such as read:packages under write:packages is omitted).
	Scopes []string
	// ScopesKnown is false for tokens that send no X-OAuth-Scopes, e.g. an
	// Actions GITHUB_TOKEN; then scopes cannot be checked in advance.
	ScopesKnown bool
}
