// Package httpsafe keeps credentials where they were meant to go. It is the
// one redirect policy shared by ghprune's HTTP clients (the packages API and
// the container registry), because net/http's own policy is not safe for
// them: http.Client keeps an Authorization header on a redirect whenever the
// new host name equals the old one or is a subdomain of it, whatever the
// scheme or port, so a 307 would carry a token to another port, over plain
// http, or to a subdomain; and it re-sends a DELETE or a 307/308 POST to
// wherever the Location points, where a hostile or misconfigured server can
// answer 204 for a deletion that never happened.
package httpsafe

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// MaxRedirects is how many redirects one GET or HEAD may follow. Real GitHub
// and registry answers redirect at most once or twice; a longer chain is a
// loop or a server playing games.
const MaxRedirects = 5

// ErrRedirectRefused is the sentinel every *RedirectError unwraps to.
var ErrRedirectRefused = errors.New("redirect refused")

// RedirectError is a redirect that a client made by Client refused to
// follow. The request that would have followed it was never sent. Its text
// names origins only, never a path or query, which may carry a token.
type RedirectError struct {
	// Method is the method of the original request.
	Method string
	// Status is the status of the answer that redirected (301, 302, 307…).
	Status int
	// From is the original request's URL, To the redirect's target.
	From, To *url.URL
	// Reason says why, e.g. "another origin would receive the token".
	Reason string
}

// Error returns e.g. "refusing redirect from https://api.example.com to
// http://api.example.com:8081: another origin would receive the token".
func (e *RedirectError) Error() string {
	return fmt.Sprintf("refusing redirect from %s to %s: %s", Origin(e.From), Origin(e.To), e.Reason)
}

// Unwrap returns ErrRedirectRefused.
func (e *RedirectError) Unwrap() error { return ErrRedirectRefused }

// Origin returns u's scheme and host as "scheme://host[:port]", the part of a
// URL that decides who receives a request; "" for a nil u.
func Origin(u *url.URL) string {
	if u == nil {
		return ""
	}
	return strings.ToLower(u.Scheme) + "://" + u.Host
}

// SameOrigin reports whether a and b have the same scheme and host (both
// compared case-insensitively) and the same port, an absent port counting as
// the scheme's default (80 for http, 443 for https).
func SameOrigin(a, b *url.URL) bool {
	if a == nil || b == nil {
		return false
	}
	return strings.EqualFold(a.Scheme, b.Scheme) && hostPort(a) == hostPort(b)
}

// hostPort returns "host:port" in lower case with the default port filled in.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch strings.ToLower(u.Scheme) {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return strings.ToLower(u.Hostname()) + ":" + port
}

// Client returns a copy of c (its Transport, Timeout and Jar) whose redirect
// policy never sends a request anywhere the original was not meant to go:
//
//   - a GET or HEAD follows at most MaxRedirects redirects, each only to the
//     origin (SameOrigin) of the original request and never to a URL that
//     carries credentials; anything else fails with a *RedirectError before
//     the redirected request is sent;
//   - any other method (DELETE, POST, PUT, PATCH) follows none: the caller
//     receives the 3xx answer itself (http.ErrUseLastResponse) and must
//     treat it as a failure, since the operation did not happen here.
//
// A CheckRedirect that c already has is consulted after these checks pass, so
// it can only refuse more. A nil c is taken as a zero http.Client. c itself
// is never modified.
func Client(c *http.Client) *http.Client {
	var cp http.Client
	if c != nil {
		cp = http.Client{Transport: c.Transport, Timeout: c.Timeout, Jar: c.Jar}
	}
	var inner func(*http.Request, []*http.Request) error
	if c != nil {
		inner = c.CheckRedirect
	}
	cp.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := checkRedirect(req, via); err != nil {
			return err
		}
		if inner != nil {
			return inner(req, via)
		}
		return nil
	}
	return &cp
}

// checkRedirect is the policy of Client.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) == 0 {
		return nil // not a redirect; net/http never calls it so
	}
	orig := via[0]
	// The method of the original request decides: net/http turns a POST
	// answered 301/302 into a GET, which must not make it followable.
	switch orig.Method {
	case http.MethodGet, http.MethodHead:
	default:
		return http.ErrUseLastResponse
	}
	refuse := func(reason string) error {
		status := 0
		if req.Response != nil {
			status = req.Response.StatusCode
		}
		return &RedirectError{Method: orig.Method, Status: status, From: orig.URL, To: req.URL, Reason: reason}
	}
	switch {
	case !SameOrigin(req.URL, orig.URL):
		return refuse("another origin would receive the token")
	case req.URL.User != nil:
		return refuse("the redirect URL carries credentials")
	case len(via) > MaxRedirects:
		return refuse(fmt.Sprintf("more than %d redirects", MaxRedirects))
	}
	return nil
}

// UnsafeToken reports whether a token (already trimmed of surrounding white
// space) holds a control character, white space or another non-printing
// character: a secret file of two lines, a CR from a Windows editor, a
// zero-width space from a web page. Such a token cannot be a valid one, and
// putting it into a header either fails obscurely or splits the header.
func UnsafeToken(token string) bool {
	for _, r := range token {
		if r == ' ' || !unicode.IsPrint(r) {
			return true
		}
	}
	return false
}

// maxRetryAfterSeconds bounds a Retry-After in seconds before it becomes a
// Duration: a day, far above any wait the clients accept, and no overflow
// (18446744074 seconds would wrap to some 290 ms).
const maxRetryAfterSeconds = int64(24 * time.Hour / time.Second)

// RetryAfter reads a Retry-After header as seconds or as an HTTP date; ok
// is false when it is absent or unreadable. A date in the past is no
// wait; seconds are capped at a day.
func RetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseUint(v, 10, 64); err == nil {
		return time.Duration(min(s, uint64(maxRetryAfterSeconds))) * time.Second, true
	} else if errors.Is(err, strconv.ErrRange) {
		return time.Duration(maxRetryAfterSeconds) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// UnwrapURLError drops net/http's *url.Error wrapper, whose text repeats
// the whole URL (with whatever its query holds); the clients' errors name
// the method and path themselves.
func UnwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}
