// Package registry reads container manifests from an OCI registry (ghcr.io,
// or a GHES container host): the bearer-token exchange, content negotiation
// for OCI and Docker manifests and indexes, digest verification, and a few
// retries with backoff (honouring Retry-After) when the registry answers 429
// or 5xx or cannot be reached. It is read-only: deletion goes through the
// packages API. It is small on purpose: ghprune needs two requests of the
// distribution API, and a cache keyed by digest that lives in the journal.
package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ghprune/ghprune/internal/clock"
	"github.com/ghprune/ghprune/internal/httpsafe"
)

// Media types read.
const (
	MediaOCIIndex       = "application/vnd.oci.image.index.v1+json"
	MediaOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	MediaDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
)

// accept lists every manifest type: an index requested without its type in
// Accept is answered MANIFEST_UNKNOWN by ghcr.io.
var accept = strings.Join([]string{MediaOCIIndex, MediaOCIManifest, MediaDockerList, MediaDockerManifest}, ", ")

// Errors callers branch on.
var (
	// ErrManifestUnknown is a 404 for a manifest.
	ErrManifestUnknown = errors.New("manifest unknown")
	// ErrDenied is a 401 or 403 for a manifest, or a token exchange refused.
	ErrDenied = errors.New("registry denied access")
	// ErrDigestMismatch is a manifest whose bytes do not hash to its digest.
	ErrDigestMismatch = errors.New("manifest digest mismatch")
	// ErrInvalid is a Config that New refuses.
	ErrInvalid = errors.New("invalid registry configuration")
	// ErrUnavailable is a registry that answered 429 or 5xx, or could not be
	// reached, on every attempt; *UnavailableError carries the details.
	ErrUnavailable = errors.New("registry unavailable")
)

// Retries. A manifest that cannot be read keeps its whole package this run,
// so a registry that stays down costs nothing but the run's deletions; the
// waits are kept short for that reason.
const (
	// DefaultMaxAttempts is how many times one request is sent when the
	// registry answers 429 or 5xx or cannot be reached: the first attempt
	// and three retries, after 1s, 2s and 4s (or what Retry-After asks).
	DefaultMaxAttempts = 4
	// MaxRetryAfter is the longest Retry-After waited for; a registry asking
	// for more gets no further attempt, and the request fails at once.
	MaxRetryAfter = time.Minute
)

// UnavailableError is a request that the registry answered 429 or 5xx, or
// that failed at the network level, on every attempt, or whose Retry-After
// was longer than MaxRetryAfter. It unwraps to ErrUnavailable.
type UnavailableError struct {
	// Op says what was requested, e.g. "manifest sha256:… of acme/app".
	Op string
	// Status is the last answer's status; 0 when the last attempt got none.
	Status int
	// Attempts is how many times the request was sent.
	Attempts int
	// RetryAfter is the wait the last answer asked for when it was longer
	// than MaxRetryAfter; 0 otherwise.
	RetryAfter time.Duration
	// Err is the last attempt's network error, nil when it was answered.
	Err error
}

// Error returns e.g. "manifest sha256:… of acme/app: registry unavailable:
// answered 503 on 4 attempts".
func (e *UnavailableError) Error() string {
	var what string
	switch {
	case e.Status == 0:
		what = fmt.Sprintf("no answer on %d attempts: %v", e.Attempts, e.Err)
	case e.RetryAfter > 0:
		what = fmt.Sprintf("answered %d on attempt %d with Retry-After %s, longer than the %s waited", e.Status, e.Attempts, e.RetryAfter, MaxRetryAfter)
	default:
		what = fmt.Sprintf("answered %d on %d attempts", e.Status, e.Attempts)
	}
	return e.Op + ": " + ErrUnavailable.Error() + ": " + what
}

// Unwrap returns ErrUnavailable.
func (e *UnavailableError) Unwrap() error { return ErrUnavailable }

// Config configures a Client.
type Config struct {
	// URL is the registry's root, e.g. https://ghcr.io.
	URL string
	// Token is the GitHub token, exchanged for a registry bearer token; empty
	// means anonymous (public images only). Surrounding white space is trimmed.
	Token string
	// HTTPClient sends the requests; default a client with a 60s timeout. The
	// client uses a copy of it whose redirect policy is httpsafe.Client's: a
	// manifest or token GET follows redirects only to its own origin.
	HTTPClient *http.Client
	// UserAgent is sent as User-Agent; default "ghprune".
	UserAgent string
	// Clock waits between attempts; default clock.Real{}. Tests pass a
	// clock.Fake and never sleep.
	Clock clock.Clock
	// MaxAttempts is how many times a request answered 429 or 5xx, or failing
	// at the network level, is sent in all; 0 means DefaultMaxAttempts, 1
	// (or less) no retries.
	MaxAttempts int
	// Observe, if set, is called with the status of every manifest GET
	// attempt (0: a network error, or a body cut off): retried ones, the 401
	// that asks for a bearer token (once per repository) and the last one;
	// token requests are not reported. It runs on the caller's goroutine and
	// must be cheap.
	Observe func(status int)
}

// Client reads manifests. Safe for concurrent use.
type Client struct {
	base        *url.URL
	token       string
	http        *http.Client
	ua          string
	clock       clock.Clock
	maxAttempts int
	observe     func(status int)

	mu      sync.Mutex
	bearers map[string]string // repository -> bearer token
	fetches int64
}

// New returns a Client for cfg. It refuses (ErrInvalid) a URL that is not an
// absolute http(s) URL and a token with a control character or white space
// inside it.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("registry: bad URL %q: %w", cfg.URL, ErrInvalid)
	}
	token := strings.TrimSpace(cfg.Token)
	if httpsafe.UnsafeToken(token) {
		// Never echo it: it may be two secrets pasted together.
		return nil, fmt.Errorf("registry: the token contains a newline or other control character, or white space; "+
			"check that the secret holds exactly one token: %w", ErrInvalid)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	ua := cfg.UserAgent
	if ua == "" {
		ua = "ghprune"
	}
	clk := cfg.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	attempts := cfg.MaxAttempts
	switch {
	case attempts == 0:
		attempts = DefaultMaxAttempts
	case attempts < 0:
		attempts = 1
	}
	observe := cfg.Observe
	if observe == nil {
		observe = func(int) {}
	}
	return &Client{base: u, token: token, http: httpsafe.Client(hc), ua: ua, clock: clk, maxAttempts: attempts,
		observe: observe, bearers: map[string]string{}}, nil
}

// Fetches returns how many manifests were fetched: for a public image each
// one counts as a download on GitHub. A nil Client (no registry configured)
// has fetched none.
func (c *Client) Fetches() int64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fetches
}

// Repository names a package's repository: owner/name, lowercase.
func Repository(owner, pkg string) string { return strings.ToLower(owner + "/" + pkg) }

// Manifest is a parsed manifest.
type Manifest struct {
	MediaType string
	Digest    string
	Raw       []byte
	Children  []string         // an index's manifests
	Subject   string           // a referrer's subject digest
	Blobs     map[string]int64 // config and layers
}

// Fetch reads the manifest digest of repo and checks that its bytes hash to
// digest.
//
// An answer of 429 or 5xx, or a network error, is retried up to
// Config.MaxAttempts attempts in all, after 1s, 2s, 4s… or what Retry-After
// (seconds or an HTTP date) asks, up to MaxRetryAfter; then the error is an
// *UnavailableError. 404 is ErrManifestUnknown, 401 and 403 ErrDenied.
func (c *Client) Fetch(ctx context.Context, repo, digest string) (*Manifest, error) {
	u := c.base.JoinPath("v2", repo, "manifests", digest)
	resp, err := c.get(ctx, repo, digest, u.String())
	if err != nil {
		return nil, err
	}
	body := resp.body
	switch resp.status {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, fmt.Errorf("manifest %s of %s: %w", digest, repo, ErrManifestUnknown)
	case http.StatusUnauthorized, http.StatusForbidden:
		return nil, fmt.Errorf("manifest %s of %s: %w (%d)", digest, repo, ErrDenied, resp.status)
	default:
		return nil, fmt.Errorf("manifest %s of %s: registry answered %d", digest, repo, resp.status)
	}
	c.mu.Lock()
	c.fetches++
	c.mu.Unlock()
	if err := Verify(digest, body); err != nil {
		return nil, fmt.Errorf("manifest of %s: %w", repo, err)
	}
	mt := resp.header.Get("Content-Type")
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = mt[:i]
	}
	m, err := Parse(mt, body)
	if err != nil {
		return nil, fmt.Errorf("manifest %s of %s: %w", digest, repo, err)
	}
	m.Digest = digest
	return m, nil
}

// Verify checks that body hashes to digest.
func Verify(digest string, body []byte) error {
	sum := sha256.Sum256(body)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != digest {
		return fmt.Errorf("%s: %w: got %s", digest, ErrDigestMismatch, got)
	}
	return nil
}

// answer is a response read whole: the body is read inside the retry loop,
// so that one cut off mid-way is retried like any other network failure.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// maxManifestBytes caps a manifest (the distribution spec's 4 MiB); a
// longer one fails its digest check. Token answers are capped at 1 MiB.
const (
	maxManifestBytes = 4 << 20
	maxTokenBytes    = 1 << 20
)

// get sends a manifest GET with the repository's bearer token, obtaining one
// on a 401 challenge. digest only names the manifest in errors.
func (c *Client) get(ctx context.Context, repo, digest, u string) (*answer, error) {
	op := "manifest " + digest + " of " + repo
	for challenged := false; ; challenged = true {
		c.mu.Lock()
		bearer := c.bearers[repo]
		c.mu.Unlock()
		resp, err := c.send(ctx, op, maxManifestBytes, c.observe, func() (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			if err != nil {
				return nil, err
			}
			req.Header.Set("Accept", accept)
			req.Header.Set("User-Agent", c.ua)
			if bearer != "" {
				req.Header.Set("Authorization", "Bearer "+bearer)
			}
			return req, nil
		})
		if err != nil {
			return nil, err
		}
		if resp.status != http.StatusUnauthorized || challenged {
			return resp, nil
		}
		tok, err := c.exchange(ctx, resp.header.Get("WWW-Authenticate"), repo)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.bearers[repo] = tok
		c.mu.Unlock()
	}
}

// send sends the request newReq builds, again while the answer is 429 or
// 5xx or there is none, up to c.maxAttempts times, and returns the first
// other answer, read whole (at most limit bytes). observe is told every
// attempt's status (0 for none). A redirect refused by httpsafe is not
// retried: the same answer would come again.
func (c *Client) send(ctx context.Context, op string, limit int64, observe func(int), newReq func() (*http.Request, error)) (*answer, error) {
	for attempt := 1; ; attempt++ {
		req, err := newReq()
		if err != nil {
			return nil, err
		}
		var (
			status int
			wait   time.Duration
			ans    *answer
		)
		resp, err := c.http.Do(req)
		if err == nil {
			status = resp.StatusCode
			var body []byte
			body, err = io.ReadAll(io.LimitReader(resp.Body, limit))
			resp.Body.Close()
			ans = &answer{status: status, header: resp.Header, body: body}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("registry GET %s: %w", redact(req.URL.String()), ctx.Err())
			}
			var redir *httpsafe.RedirectError
			if errors.As(err, &redir) {
				observe(redir.Status)
				return nil, fmt.Errorf("registry GET %s: %w", redact(req.URL.String()), httpsafe.UnwrapURLError(err))
			}
			observe(0)
			err = httpsafe.UnwrapURLError(err)
			if attempt >= c.maxAttempts {
				return nil, &UnavailableError{Op: op, Attempts: attempt, Err: err}
			}
			wait = backoff(attempt)
		} else {
			observe(status)
			if status != http.StatusTooManyRequests && status < 500 {
				return ans, nil
			}
			ra, ok := httpsafe.RetryAfter(ans.header.Get("Retry-After"), c.clock.Now())
			switch {
			case ok && ra > MaxRetryAfter:
				return nil, &UnavailableError{Op: op, Status: status, Attempts: attempt, RetryAfter: ra}
			case attempt >= c.maxAttempts:
				return nil, &UnavailableError{Op: op, Status: status, Attempts: attempt}
			case ok:
				wait = ra
			default:
				wait = backoff(attempt)
			}
		}
		if err := c.clock.Sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("%s: waiting to retry: %w", op, err)
		}
	}
}

// backoff is the wait after failed attempt n (1-based): 1s, 2s, 4s…
func backoff(n int) time.Duration {
	return time.Second << min(n-1, 6)
}

// exchange answers a Bearer challenge: basic auth with the GitHub token as
// password, anonymously if that is refused (public images).
func (c *Client) exchange(ctx context.Context, challenge, repo string) (string, error) {
	params := parseChallenge(challenge)
	realm := params["realm"]
	if realm == "" {
		return "", fmt.Errorf("registry: no bearer realm in challenge")
	}
	ru, err := url.Parse(realm)
	if err != nil || ru.User != nil || !httpsafe.SameOrigin(ru, c.base) {
		// The token must never be sent to another host or port, nor in clear
		// text to a registry reached over https.
		return "", fmt.Errorf("registry: refusing a token realm on another origin (scheme, host or port) than %s", httpsafe.Origin(c.base))
	}
	q := ru.Query()
	if s := params["service"]; s != "" {
		q.Set("service", s)
	}
	q.Set("scope", "repository:"+repo+":pull")
	ru.RawQuery = q.Encode()
	for _, basic := range []bool{c.token != "", false} {
		resp, err := c.send(ctx, "registry token for "+repo, maxTokenBytes, func(int) {}, func() (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, ru.String(), nil)
			if err != nil {
				return nil, err
			}
			req.Header.Set("User-Agent", c.ua)
			if basic {
				req.SetBasicAuth("ghprune", c.token)
			}
			return req, nil
		})
		if err != nil {
			return "", err
		}
		var body struct {
			Token       string `json:"token"`
			AccessToken string `json:"access_token"`
		}
		if resp.status == http.StatusOK && json.Unmarshal(resp.body, &body) == nil {
			if body.Token != "" {
				return body.Token, nil
			}
			if body.AccessToken != "" {
				return body.AccessToken, nil
			}
		}
	}
	return "", fmt.Errorf("registry token for %s: %w", repo, ErrDenied)
}

func parseChallenge(h string) map[string]string {
	out := map[string]string{}
	h = strings.TrimSpace(h)
	if !strings.HasPrefix(strings.ToLower(h), "bearer ") {
		return out
	}
	for _, part := range splitParams(h[len("bearer "):]) {
		k, v, ok := strings.Cut(part, "=")
		if ok {
			out[strings.ToLower(strings.TrimSpace(k))] = strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return out
}

// splitParams splits on commas outside quotes (scope values contain commas).
func splitParams(s string) []string {
	var out []string
	quoted, start := false, 0
	for i, r := range s {
		switch r {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// Parse reads the parts of a manifest the graph needs.
func Parse(mediaType string, body []byte) (*Manifest, error) {
	var raw struct {
		MediaType string `json:"mediaType"`
		Config    *struct {
			Digest string `json:"digest"`
			Size   int64  `json:"size"`
		} `json:"config"`
		Layers []struct {
			Digest string `json:"digest"`
			Size   int64  `json:"size"`
		} `json:"layers"`
		Manifests []struct {
			Digest string `json:"digest"`
		} `json:"manifests"`
		Subject *struct {
			Digest string `json:"digest"`
		} `json:"subject"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("parse manifest: %w", err)
	}
	m := &Manifest{MediaType: mediaType, Raw: body, Blobs: map[string]int64{}}
	if m.MediaType == "" {
		m.MediaType = raw.MediaType
	}
	for _, d := range raw.Manifests {
		if d.Digest != "" {
			m.Children = append(m.Children, d.Digest)
		}
	}
	if raw.Subject != nil {
		m.Subject = raw.Subject.Digest
	}
	if raw.Config != nil && raw.Config.Digest != "" {
		m.Blobs[raw.Config.Digest] = raw.Config.Size
	}
	for _, l := range raw.Layers {
		if l.Digest != "" {
			m.Blobs[l.Digest] = l.Size
		}
	}
	if len(m.Children) == 0 && len(m.Blobs) == 0 && m.Subject == "" && raw.MediaType == "" {
		return nil, fmt.Errorf("parse manifest: not a manifest or index")
	}
	return m, nil
}

func redact(u string) string {
	if p, err := url.Parse(u); err == nil {
		p.RawQuery = ""
		return p.String()
	}
	return "registry URL"
}
