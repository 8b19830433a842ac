package githubapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Sentinel errors that callers branch on with errors.Is. Every *APIError
// unwraps to exactly one of them, so nobody outside this package reads GitHub's
// message text.
var (
	// ErrNotFound is a 404. GitHub also answers 404 when the token may see but
	// not administer a package, so on a delete it can mean "no admin rights".
	ErrNotFound = errors.New("not found")
	// ErrDownloadLimit is the refusal to delete a version of a public package
	// downloaded more than 5,000 times. Permanent: record it, never retry.
	ErrDownloadLimit = errors.New("public version has more than 5000 downloads")
	// ErrLastVersion is the refusal to delete the last (tagged) version of a
	// package; the package itself would have to be deleted instead.
	ErrLastVersion = errors.New("last version of a package")
	// ErrBadCredentials is a 401, or an empty token refused by New.
	ErrBadCredentials = errors.New("bad credentials")
	// ErrMissingScope means the token lacks a classic scope the operation needs;
	// the error is a *ScopeError naming them.
	ErrMissingScope = errors.New("token lacks a required scope")
	// ErrFineGrainedToken means New was given a fine-grained PAT, which the
	// packages API does not accept.
	ErrFineGrainedToken = errors.New("fine-grained personal access token")
	// ErrPrimaryRateLimit is an exhausted hourly limit that the client would not
	// (or could no longer) wait out; the error is a *RateLimitError.
	ErrPrimaryRateLimit = errors.New("primary rate limit exceeded")
	// ErrSecondaryRateLimit is a secondary (abuse) limit that the client would
	// not (or could no longer) wait out; the error is a *SecondaryRateLimitError.
	ErrSecondaryRateLimit = errors.New("secondary rate limit exceeded")
	// ErrServer is a 5xx that persisted through all retries.
	ErrServer = errors.New("server error")
	// ErrForbidden is a 403 that is not a rate limit.
	ErrForbidden = errors.New("forbidden")
	// ErrInvalid is any other 4xx (or unexpected status), and arguments the
	// client refuses before sending anything.
	ErrInvalid = errors.New("invalid request")
	// ErrRedirect is a redirect the client did not follow: any 3xx answering
	// a DELETE or POST (which never follow redirects, so the operation did
	// not happen, whatever the Location would have answered), and a GET
	// redirected to another origin or through too many hops. Never retried.
	ErrRedirect = errors.New("redirect not followed")
	// ErrPagination is a listing whose pages cannot be trusted to end: a
	// next link on an empty page, a next link back to a page already read,
	// or more pages than the package's version_count (or the hard cap)
	// allows. It is not an *APIError; the walk stops without further requests.
	ErrPagination = errors.New("pagination does not end")
)

// APIError is a response GitHub refused. Kind is one of the sentinel errors
// above, reached through Unwrap.
type APIError struct {
	Status           int
	Message          string
	DocumentationURL string
	Method           string
	// Op is the operation name as in Attempt.Op.
	Op string
	// Path is the escaped request path without the query.
	Path string
	Kind error
	// Attempt is the 1-based number of the HTTP attempt that received this
	// answer, counting every attempt of the call (retries after a 5xx or a
	// network failure and after rate-limit waits). Above 1, an earlier
	// attempt may have taken effect without its answer arriving: a 404 that
	// answers a retried DELETE may mean the first attempt deleted it.
	Attempt int
	// Resent is true when an earlier attempt of this call got no clear
	// answer (a 5xx, a network failure, a body cut off) and was sent again:
	// that attempt may have been carried out. Attempts refused by a rate
	// limit do not count; they were not carried out.
	Resent bool

	// integration is set for "Resource not accessible by integration": the
	// token is an Actions or App token, which Identity tolerates on /user.
	integration bool
}

// Error returns e.g. "DELETE /orgs/acme/packages/container/a%2Fb/versions/3: 400 Publicly visible…".
func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, e.Message)
}

// Unwrap returns Kind so that errors.Is(err, ErrNotFound) and the like work.
func (e *APIError) Unwrap() error { return e.Kind }

// RateLimitError is an exhausted primary rate limit. errors.Is(err,
// ErrPrimaryRateLimit) holds, and errors.As reaches both this and its APIError.
type RateLimitError struct {
	APIError
	// Rate is the limit as the refusal reported it; Rate.Reset is when it lifts.
	Rate Rate
}

// Error adds when the limit resets to the APIError text.
func (e *RateLimitError) Error() string {
	if e.Rate.Reset.IsZero() {
		return e.APIError.Error()
	}
	return fmt.Sprintf("%s (resets at %s)", e.APIError.Error(), e.Rate.Reset.UTC().Format(time.RFC3339))
}

// Unwrap returns the embedded APIError, whose Kind is ErrPrimaryRateLimit.
func (e *RateLimitError) Unwrap() error { return &e.APIError }

// SecondaryRateLimitError is a secondary rate limit. errors.Is(err,
// ErrSecondaryRateLimit) holds.
type SecondaryRateLimitError struct {
	APIError
	// RetryAfter is how long GitHub asked us to wait (retry-after), or the wait
	// the client computed when GitHub did not say.
	RetryAfter time.Duration
}

// Error adds the wait GitHub asked for to the APIError text.
func (e *SecondaryRateLimitError) Error() string {
	if e.RetryAfter <= 0 {
		return e.APIError.Error()
	}
	return fmt.Sprintf("%s (retry after %s)", e.APIError.Error(), e.RetryAfter)
}

// Unwrap returns the embedded APIError, whose Kind is ErrSecondaryRateLimit.
func (e *SecondaryRateLimitError) Unwrap() error { return &e.APIError }

// ScopeError says which classic scopes a token lacks for an operation.
// errors.Is(err, ErrMissingScope) holds.
type ScopeError struct {
	// Op is the operation that was checked.
	Op Operation
	// Have are the token's scopes as GitHub reported them.
	Have []string
	// Need are all the scopes the operation needs.
	Need []string
	// Missing are the scopes of Need that Have does not grant.
	Missing []string
}

// Error names the missing scopes and what the token has, never the token.
func (e *ScopeError) Error() string {
	have := strings.Join(e.Have, ", ")
	if have == "" {
		have = "none"
	}
	return fmt.Sprintf("token lacks scope %s needed to %s packages (token has: %s); use a personal access token (classic) with %s",
		strings.Join(e.Missing, ", "), e.Op, have, strings.Join(e.Need, ", "))
}

// Unwrap returns ErrMissingScope.
func (e *ScopeError) Unwrap() error { return ErrMissingScope }

// verdict is what classify makes of a refusal.
type verdict struct {
	kind error
	// secondary: a secondary rate limit (kind is ErrSecondaryRateLimit).
	// primary: an exhausted primary limit (kind is ErrPrimaryRateLimit).
	secondary, primary bool
	// integration: "Resource not accessible by integration".
	integration bool
}

// classify maps a non-2xx answer to a sentinel. It is the one place that reads
// GitHub's message text, because the refusals ghprune must tell apart (download
// limit, last version, secondary limit) share a status code and differ only in
// wording. The strings are GitHub's observed messages, matched case-insensitively
// and by their distinctive part, so that punctuation changes do not break them:
//
//	400 Publicly visible package versions with more than 5000 downloads cannot be deleted. Contact GitHub support for further assistance.
//	400 You cannot delete the last version of a package. You must delete the package instead.
//	400 You cannot delete the last tagged version of a package. You must delete the package instead.
//	403/429 You have exceeded a secondary rate limit…
//	403 You have triggered an abuse detection mechanism… (older GHES wording of the same)
//	403 Resource not accessible by integration
//
// Any 3xx but 304 is ErrRedirect: a redirect reaches here only when it was
// not followed (every redirect of a mutation), so the operation did not happen.
func classify(status int, h http.Header, message string) verdict {
	msg := strings.ToLower(message)
	limitStatus := status == http.StatusForbidden || status == http.StatusTooManyRequests
	switch {
	case isRedirect(status):
		return verdict{kind: ErrRedirect}
	case status == http.StatusUnauthorized:
		return verdict{kind: ErrBadCredentials}
	case limitStatus && (strings.Contains(msg, "secondary rate limit") ||
		strings.Contains(msg, "abuse detection") ||
		h.Get("Retry-After") != ""):
		return verdict{kind: ErrSecondaryRateLimit, secondary: true}
	case limitStatus && h.Get("X-RateLimit-Remaining") == "0":
		return verdict{kind: ErrPrimaryRateLimit, primary: true}
	case status == http.StatusTooManyRequests:
		// GitHub documents 429 only for rate limits; without the headers that
		// make it primary it is a secondary one.
		return verdict{kind: ErrSecondaryRateLimit, secondary: true}
	case status == http.StatusForbidden:
		return verdict{kind: ErrForbidden, integration: strings.Contains(msg, "resource not accessible by integration")}
	case status == http.StatusNotFound:
		return verdict{kind: ErrNotFound}
	case status == http.StatusBadRequest &&
		(strings.Contains(msg, "more than 5000 downloads") || strings.Contains(msg, "more than 5,000 downloads")):
		return verdict{kind: ErrDownloadLimit}
	case status == http.StatusBadRequest &&
		(strings.Contains(msg, "last version") || strings.Contains(msg, "last tagged version")):
		return verdict{kind: ErrLastVersion}
	case status >= 500:
		return verdict{kind: ErrServer}
	default:
		return verdict{kind: ErrInvalid}
	}
}
