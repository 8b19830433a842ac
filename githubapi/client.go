// Package githubapi is ghprune's REST client for the GitHub Packages API.
//
// It is written on net/http rather than google/go-github because GitHub's
// pagination links point at /organizations/{id}/… and must be followed
// verbatim, which go-github's page-number pagination does not do. The client
// owns everything about talking to GitHub that callers should not have to
// repeat: headers, pagination, conditional requests (a 304 costs no rate
// limit, which matters to a daemon that re-plans every hour), retries of
// 5xx and network failures, waiting out primary and secondary rate limits,
// classifying refusals into sentinel errors, and checking the token's scopes
// before the first mutation.
//
// Reference: https://docs.github.com/en/rest/packages/packages
package githubapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/ghprune/ghprune/internal/clock"
	"github.com/ghprune/ghprune/internal/httpsafe"
)

// Defaults applied by New to zero Config fields.
const (
	// DefaultBaseURL is github.com's API root.
	DefaultBaseURL = "https://api.github.com"
	// DefaultAPIVersion is the REST API version the client was written against.
	DefaultAPIVersion = "2022-11-28"
	// DefaultUserAgent identifies ghprune to GitHub, which requires a User-Agent.
	DefaultUserAgent = "ghprune"
	// DefaultPerPage is GitHub's maximum page size: fewer pages, fewer requests.
	DefaultPerPage = 100
	// DefaultMaxRetries is how often a 5xx or network failure is retried.
	DefaultMaxRetries = 3
	// DefaultMaxRateLimitWaits is how many rate-limit waits one request may take.
	DefaultMaxRateLimitWaits = 5
	// DefaultMaxWait is the longest single rate-limit wait: one primary window.
	DefaultMaxWait = time.Hour
	// DefaultTimeout bounds one HTTP attempt of the default HTTP client.
	DefaultTimeout = 60 * time.Second
)

const (
	// maxCacheEntries and maxCacheBytes bound the in-memory ETag cache (used
	// when Config.Cache is nil); when either is reached the cache is cleared
	// (cheap, and a daemon refills it within one
	// planning pass). The byte bound exists because a package with 100,000
	// versions is 1,000 pages of about 60 KB each.
	maxCacheEntries = 4096
	maxCacheBytes   = 64 << 20
	// maxBodyBytes caps a success body; a page of 100 versions is far smaller.
	maxBodyBytes = 32 << 20
	// maxErrorBodyBytes caps an error body; GitHub's are a few hundred bytes,
	// its HTML error pages a few KB.
	maxErrorBodyBytes = 64 << 10
	// secondaryFallbackWait is the first wait on a secondary limit that gives
	// no retry-after and no exhausted primary limit; GitHub asks for "at least
	// one minute", then exponential backoff.
	secondaryFallbackWait = time.Minute
	// fineGrainedPrefix starts fine-grained personal access tokens.
	fineGrainedPrefix = "github_pat_"
)

// Config configures a Client. Zero fields take the defaults documented on each.
type Config struct {
	// BaseURL is the API root: default "https://api.github.com"; GitHub
	// Enterprise Server "https://HOST/api/v3". A trailing slash is tolerated.
	BaseURL string
	// Token is a personal access token (classic) or an Actions GITHUB_TOKEN.
	// Surrounding white space (a newline from a mounted secret) is trimmed.
	Token string
	// APIVersion is sent as X-GitHub-Api-Version; default "2022-11-28".
	APIVersion string
	// UserAgent is sent as User-Agent, which GitHub requires; default "ghprune".
	UserAgent string
	// HTTPClient sends the requests; default a client with a 60s timeout.
	// The client uses a copy of it whose redirect policy is httpsafe.Client's:
	// a GET follows redirects only to the API's own origin, a mutation none.
	HTTPClient *http.Client
	// Clock tells time and waits; default clock.Real{}. Tests pass a clock.Fake.
	Clock clock.Clock
	// PerPage is the page size of list calls; default and maximum 100.
	PerPage int
	// MaxRetries is how often a request answered 5xx or failing at the network
	// level is retried, with backoff 1s, 2s, 4s…; 0 means the default 3,
	// negative means no retries.
	MaxRetries int
	// MaxRateLimitWaits is how many times one request may wait out a rate
	// limit before the error is returned; 0 means the default 5, negative
	// means never wait.
	MaxRateLimitWaits int
	// MaxWait is the longest single rate-limit wait; a longer one returns the
	// error instead. 0 means the default 1h, negative means never wait.
	MaxWait time.Duration
	// Cache keeps GET answers for conditional requests (If-None-Match): a
	// 304 costs no rate limit. Nil means a bounded in-memory cache, which
	// dies with the process; a persistent one (the journal) lets a new
	// process revalidate instead of reading again.
	Cache Cache
	// Observe, if set, is called after every HTTP attempt (for metrics). It
	// runs on the request's goroutine and must be cheap.
	Observe func(Attempt)
	// Logger receives retries and waits; nil means zap.NewNop().
	Logger *zap.Logger
}

// Client talks to the GitHub Packages REST API. It is safe for concurrent use.
type Client struct {
	base       *url.URL
	token      string
	apiVersion string
	userAgent  string
	http       *http.Client
	clock      clock.Clock
	perPage    int
	// maxPages is the hard cap of a walk without a known count: the
	// constant maxPages, lowered by tests.
	maxPages   int
	maxRetries int
	maxWaits   int
	maxWait    time.Duration
	observe    func(Attempt)
	log        *zap.Logger

	requests atomic.Int64

	rateMu sync.Mutex
	rate   Rate

	cache Cache

	// idSem serialises the one GET /user; a channel rather than a mutex so
	// that a caller waiting for it still honours its context.
	idSem    chan struct{}
	identity *Identity
}

// Cache keeps GET answers for conditional requests, by URL. It must be safe
// for concurrent use. A Get that fails (a storage error) is a miss, and a
// Put that fails is forgotten: the cache saves requests, it never decides.
type Cache interface {
	Get(key string) (CacheEntry, bool)
	Put(key string, e CacheEntry)
}

// CacheEntry is one cached answer: its ETag, body, and Link header (a 304
// need not repeat it, and pagination must still find the next page).
type CacheEntry struct {
	ETag string
	Body []byte
	Link string
}

// memCache is the default Cache: in memory, bounded, cleared when full.
type memCache struct {
	mu    sync.Mutex
	m     map[string]cacheEntry
	bytes int
}

// cacheEntry is a GET answer kept for conditional requests.
type cacheEntry struct {
	etag string
	body []byte
	// link is the Link header of the cached answer: a 304 need not repeat it,
	// and pagination must still find the next page.
	link string
}

// parseBaseURL checks the API's base URL, never echoing the token or
// credentials pasted into it.
func parseBaseURL(raw, token string) (*url.URL, error) {
	if raw == "" {
		raw = DefaultBaseURL
	}
	base, err := url.Parse(strings.TrimRight(raw, "/"))
	// The URL is echoed in errors; a token pasted into it must not be.
	raw = strings.ReplaceAll(raw, token, "[REDACTED]")
	if err != nil {
		var ue *url.Error
		reason := "does not parse"
		if errors.As(err, &ue) {
			reason = strings.ReplaceAll(ue.Err.Error(), token, "[REDACTED]")
		}
		return nil, fmt.Errorf("githubapi: base URL %q: %s: %w", raw, reason, ErrInvalid)
	}
	switch {
	case base.Scheme != "http" && base.Scheme != "https":
		return nil, fmt.Errorf("githubapi: base URL %q: scheme must be http or https: %w", raw, ErrInvalid)
	case base.Host == "":
		return nil, fmt.Errorf("githubapi: base URL %q: no host: %w", raw, ErrInvalid)
	case base.User != nil:
		// Never echo credentials embedded in the URL.
		return nil, fmt.Errorf("githubapi: base URL must not carry credentials: %w", ErrInvalid)
	case base.RawQuery != "" || base.Fragment != "":
		return nil, fmt.Errorf("githubapi: base URL %q: must not have a query or fragment: %w", raw, ErrInvalid)
	}
	return base, nil
}

// New validates cfg and returns a Client. It refuses an empty token
// (ErrBadCredentials) and a fine-grained token (ErrFineGrainedToken), since the
// packages API accepts neither, a token with a control character or white
// space inside it (ErrInvalid), and a BaseURL that is not an absolute http(s) URL.
func New(cfg Config) (*Client, error) {
	token := strings.TrimSpace(cfg.Token)
	if token == "" {
		return nil, fmt.Errorf("githubapi: empty token: set a personal access token (classic) or an Actions GITHUB_TOKEN: %w", ErrBadCredentials)
	}
	if httpsafe.UnsafeToken(token) {
		// Never echo it: it may be two secrets pasted together.
		return nil, fmt.Errorf("githubapi: the token contains a newline or other control character, or white space; "+
			"check that the secret holds exactly one token: %w", ErrInvalid)
	}
	if strings.HasPrefix(token, fineGrainedPrefix) {
		return nil, fmt.Errorf("githubapi: fine-grained personal access tokens (github_pat_…) are not supported by the GitHub Packages API; "+
			"use a personal access token (classic) with read:packages (plus delete:packages to delete, write:packages to restore) "+
			"or an Actions GITHUB_TOKEN: %w", ErrFineGrainedToken)
	}

	base, err := parseBaseURL(cfg.BaseURL, token)
	if err != nil {
		return nil, err
	}

	c := &Client{
		base:       base,
		token:      token,
		apiVersion: cfg.APIVersion,
		userAgent:  cfg.UserAgent,
		http:       cfg.HTTPClient,
		clock:      cfg.Clock,
		perPage:    cfg.PerPage,
		maxPages:   maxPages,
		maxRetries: cfg.MaxRetries,
		maxWaits:   cfg.MaxRateLimitWaits,
		maxWait:    cfg.MaxWait,
		observe:    cfg.Observe,
		log:        cfg.Logger,
		cache:      cfg.Cache,
		idSem:      make(chan struct{}, 1),
	}
	if c.apiVersion == "" {
		c.apiVersion = DefaultAPIVersion
	}
	if c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
	if c.cache == nil {
		c.cache = &memCache{m: map[string]cacheEntry{}}
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: DefaultTimeout}
	}
	c.http = httpsafe.Client(c.http)
	if c.clock == nil {
		c.clock = clock.Real{}
	}
	if c.perPage <= 0 || c.perPage > DefaultPerPage {
		c.perPage = DefaultPerPage
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = DefaultMaxRetries
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	switch {
	case c.maxWaits == 0:
		c.maxWaits = DefaultMaxRateLimitWaits
	case c.maxWaits < 0:
		c.maxWaits = 0
	}
	if c.maxWait == 0 {
		c.maxWait = DefaultMaxWait
	}
	if c.log == nil {
		c.log = zap.NewNop()
	}
	c.log = c.log.Named("githubapi")
	return c, nil
}

// Requests returns how many HTTP attempts the client has sent, retries and
// conditional requests included: the scarce resource a run is measured in.
func (c *Client) Requests() int64 { return c.requests.Load() }

// Rate returns the primary rate limit from the last response that reported it.
func (c *Client) Rate() Rate {
	c.rateMu.Lock()
	defer c.rateMu.Unlock()
	return c.rate
}

// String describes the client without its token, so that printing a Client
// (or a struct holding one) cannot leak it.
func (c *Client) String() string {
	return fmt.Sprintf("githubapi.Client{base: %s}", c.base)
}

// GoString is String, so that %#v does not print the token field.
func (c *Client) GoString() string { return c.String() }

// String shows the configuration with the token redacted, so that logging a
// Config cannot leak it.
func (c Config) String() string {
	tok := ""
	if c.Token != "" {
		tok = "[REDACTED]"
	}
	return fmt.Sprintf("githubapi.Config{BaseURL: %q, Token: %q, APIVersion: %q, UserAgent: %q, PerPage: %d, MaxRetries: %d, MaxRateLimitWaits: %d, MaxWait: %s}",
		c.BaseURL, tok, c.APIVersion, c.UserAgent, c.PerPage, c.MaxRetries, c.MaxRateLimitWaits, c.MaxWait)
}

// GoString is String, so that %#v does not leak the token either.
func (c Config) GoString() string { return c.String() }

// request is one logical API call, which may take several attempts.
type request struct {
	op     string
	method string
	u      *url.URL
	// cacheable: a GET whose answer may be kept and revalidated with an ETag.
	cacheable bool
}

// response is a successful answer (2xx, or a 304 resolved from the cache).
type response struct {
	status int
	header http.Header
	body   []byte
	// link is the Link header, from the cache on a 304.
	link string
}

// do sends r, retrying 5xx and network failures with backoff and waiting out
// rate limits, and returns the first 2xx answer or a classified error. It is
// the only place that sends requests, so every call gets the same handling.
func (c *Client) do(ctx context.Context, r request) (*response, error) {
	cl := &doCall{request: r, path: r.u.EscapedPath(), key: r.u.String(), secondaryWait: secondaryFallbackWait}
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("%s %s: %w", r.method, cl.path, err)
		}
		resp, again, err := c.attempt(ctx, cl)
		if !again {
			return resp, err
		}
	}
}

// doCall is one do: its request and what its attempts have used up so far.
type doCall struct {
	request
	path string // the escaped path, which errors and logs name
	key  string // the URL, also the ETag cache's key
	// retries counts the backoff retries taken (5xx, network failures, cut
	// bodies), waits the rate-limit waits.
	retries, waits int
	// attempt numbers the HTTP attempts of this call, for APIError.Attempt.
	attempt int
	// secondaryWait is the fallback wait on a secondary limit, doubled on
	// each use (see limitWait).
	secondaryWait time.Duration
}

// nextBackoff takes the next retry of cl and returns its wait: 1s, 2s, 4s…
func (cl *doCall) nextBackoff() time.Duration {
	wait := backoff(cl.retries)
	cl.retries++
	return wait
}

// attempt sends one HTTP attempt of cl and handles its answer. again is true
// when the call is to be sent once more, the wait before it already taken;
// otherwise the answer or the error is the call's.
func (c *Client) attempt(ctx context.Context, cl *doCall) (resp *response, again bool, err error) {
	var cached cacheEntry
	var haveCached bool
	if cl.cacheable {
		cached, haveCached = c.cacheGet(cl.key)
	}
	req, err := c.newHTTPRequest(ctx, cl, cached.etag, haveCached)
	if err != nil {
		return nil, false, err
	}

	c.requests.Add(1)
	cl.attempt++
	start := time.Now()
	hresp, err := c.http.Do(req)
	dur := time.Since(start)
	if err != nil {
		again, err := c.transportFailure(ctx, cl, err, dur)
		return nil, again, err
	}
	rate := c.recordRate(hresp.Header)
	a := Attempt{Op: cl.op, Method: cl.method, Status: hresp.StatusCode, Duration: dur, Rate: rate}

	// Success paths.
	if hresp.StatusCode == http.StatusNotModified && haveCached {
		drain(hresp)
		c.emit(a)
		return &response{status: http.StatusOK, header: hresp.Header, body: cached.body, link: cached.link}, false, nil
	}
	if hresp.StatusCode >= 200 && hresp.StatusCode < 300 {
		return c.success(ctx, cl, hresp, a)
	}
	again, err = c.refusal(ctx, cl, hresp, a)
	return nil, again, err
}

// newHTTPRequest builds an attempt of cl, conditional on etag when
// conditional.
func (c *Client) newHTTPRequest(ctx context.Context, cl *doCall, etag string, conditional bool) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, cl.method, cl.key, nil)
	if err != nil {
		return nil, fmt.Errorf("%s %s: build request: %w", cl.method, cl.path, ErrInvalid)
	}
	// Keep the exact URL object: its RawPath carries the %2F of package
	// names, and a next link must go out exactly as GitHub wrote it.
	req.URL = cl.u
	req.Host = ""
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", c.apiVersion)
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set("Authorization", "Bearer "+c.token)
	if conditional {
		req.Header.Set("If-None-Match", etag)
	}
	return req, nil
}

// recordRate reads the rate limit an answer reports and keeps it for Rate.
func (c *Client) recordRate(h http.Header) Rate {
	rate := parseRate(h)
	if rate.Known {
		c.rateMu.Lock()
		c.rate = rate
		c.rateMu.Unlock()
	}
	return rate
}

// sleep waits before the next attempt of cl: again, or not with the error
// (what, then ctx's) when ctx ends first.
func (c *Client) sleep(ctx context.Context, cl *doCall, wait time.Duration, what string) (again bool, err error) {
	if err := c.clock.Sleep(ctx, wait); err != nil {
		return false, fmt.Errorf("%s %s: %s%w", cl.method, cl.path, what, err)
	}
	return true, nil
}

// transportFailure handles an attempt that got no answer: the context ended,
// a redirect was refused, or the network failed, which is retried.
func (c *Client) transportFailure(ctx context.Context, cl *doCall, err error, dur time.Duration) (again bool, _ error) {
	if ctxErr := ctx.Err(); ctxErr != nil {
		c.emit(Attempt{Op: cl.op, Method: cl.method, Duration: dur})
		return false, fmt.Errorf("%s %s: %w", cl.method, cl.path, ctxErr)
	}
	var redir *httpsafe.RedirectError
	if errors.As(err, &redir) {
		// A redirect that would have sent the token elsewhere: the
		// same answer would come again, so it is not retried.
		c.emit(Attempt{Op: cl.op, Method: cl.method, Status: redir.Status, Duration: dur})
		return false, &APIError{Status: redir.Status, Message: c.scrubString(redir.Error()),
			Method: cl.method, Op: cl.op, Path: cl.path, Kind: ErrRedirect, Attempt: cl.attempt}
	}
	netErr := c.scrub(httpsafe.UnwrapURLError(err))
	if cl.retries < c.maxRetries {
		wait := cl.nextBackoff()
		c.emit(Attempt{Op: cl.op, Method: cl.method, Duration: dur, Retry: true, Wait: wait})
		c.log.Warn("request failed, retrying",
			zap.String("op", cl.op), zap.String("method", cl.method), zap.String("path", cl.path),
			zap.Int("retry", cl.retries), zap.Duration("wait", wait), zap.Error(netErr))
		return c.sleep(ctx, cl, wait, "")
	}
	c.emit(Attempt{Op: cl.op, Method: cl.method, Duration: dur})
	return false, fmt.Errorf("%s %s: %w", cl.method, cl.path, netErr)
}

// success reads a 2xx answer, a the attempt to report, and keeps a 200 with
// an ETag for conditional requests.
func (c *Client) success(ctx context.Context, cl *doCall, resp *http.Response, a Attempt) (_ *response, again bool, _ error) {
	body, err := readAll(resp.Body, maxBodyBytes)
	resp.Body.Close()
	if err != nil {
		// A body cut off mid-way is a transport failure; retry it like one.
		if cl.retries < c.maxRetries && ctx.Err() == nil {
			wait := cl.nextBackoff()
			a.Retry, a.Wait = true, wait
			c.emit(a)
			again, err := c.sleep(ctx, cl, wait, "")
			return nil, again, err
		}
		c.emit(a)
		return nil, false, fmt.Errorf("%s %s: read body: %w", cl.method, cl.path, c.scrub(err))
	}
	c.emit(a)
	link := resp.Header.Get("Link")
	if cl.cacheable && resp.StatusCode == http.StatusOK {
		if etag := resp.Header.Get("ETag"); etag != "" {
			c.cachePut(cl.key, cacheEntry{etag: etag, body: body, link: link})
		}
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: body, link: link}, false, nil
}

// refusal classifies an answer that is neither a 2xx nor a 304 from the
// cache, a the attempt to report, and decides whether to wait out a rate
// limit, retry a 5xx, or return the error.
func (c *Client) refusal(ctx context.Context, cl *doCall, resp *http.Response, a Attempt) (again bool, _ error) {
	// A refusal, or a redirect that was not followed (every redirect of a
	// mutation): the operation did not happen at this URL, whatever
	// happened at the Location, so a 3xx is never a success.
	apiErr := c.newAPIError(cl.request, cl.path, resp)
	v := classify(resp.StatusCode, resp.Header, apiErr.Message)
	apiErr.Kind = v.kind
	apiErr.integration = v.integration
	apiErr.Attempt = cl.attempt
	apiErr.Resent = cl.retries > 0

	if v.primary || v.secondary {
		return c.waitOutLimit(ctx, cl, resp.Header, a, v, apiErr)
	}
	if resp.StatusCode >= 500 && cl.retries < c.maxRetries {
		wait := cl.nextBackoff()
		a.Retry, a.Wait = true, wait
		c.emit(a)
		c.log.Warn("server error, retrying",
			zap.String("op", cl.op), zap.String("method", cl.method), zap.String("path", cl.path),
			zap.Int("status", resp.StatusCode), zap.Int("retry", cl.retries), zap.Duration("wait", wait))
		return c.sleep(ctx, cl, wait, "")
	}
	c.emit(a)
	return false, apiErr
}

// waitOutLimit waits out the rate limit that refused cl, or returns the
// typed error when the client may not wait (again, or that long).
func (c *Client) waitOutLimit(ctx context.Context, cl *doCall, h http.Header, a Attempt, v verdict, apiErr *APIError) (again bool, _ error) {
	wait, typed := c.limitWait(h, a.Rate, v, apiErr, &cl.secondaryWait)
	a.SecondaryLimited = v.secondary
	if cl.waits >= c.maxWaits || wait > c.maxWait || c.maxWait < 0 {
		c.emit(a)
		return false, typed
	}
	cl.waits++
	a.Retry, a.Wait = true, wait
	c.emit(a)
	c.log.Info("rate limited, waiting",
		zap.String("op", cl.op), zap.String("method", cl.method), zap.String("path", cl.path),
		zap.Bool("secondary", v.secondary), zap.Duration("wait", wait), zap.Int("wait_number", cl.waits))
	return c.sleep(ctx, cl, wait, "waiting out rate limit: ")
}

// limitWait decides how long to wait on a rate-limit refusal and builds the
// typed error returned if the client will not wait that long. secondaryWait
// holds the fallback wait of this request, doubled on each use.
func (c *Client) limitWait(h http.Header, rate Rate, v verdict, apiErr *APIError, secondaryWait *time.Duration) (time.Duration, error) {
	now := c.clock.Now()
	untilReset := func() time.Duration {
		w := rate.Reset.Sub(now) + time.Second
		if w < time.Second {
			w = time.Second
		}
		return w
	}
	if v.primary {
		wait := secondaryFallbackWait
		if !rate.Reset.IsZero() {
			wait = untilReset()
		}
		return wait, &RateLimitError{APIError: *apiErr, Rate: rate}
	}
	var wait time.Duration
	if ra, ok := httpsafe.RetryAfter(h.Get("Retry-After"), now); ok {
		wait = max(ra, time.Second)
	} else if rate.Known && rate.Remaining == 0 && !rate.Reset.IsZero() {
		wait = untilReset()
	} else {
		wait = *secondaryWait
		*secondaryWait *= 2
	}
	return wait, &SecondaryRateLimitError{APIError: *apiErr, RetryAfter: wait}
}

// newAPIError reads a refusal's body into an APIError. GitHub's JSON errors
// give message and documentation_url; anything else (the HTML "unicorn" page
// of a 5xx) becomes the status text, so that no page of HTML ends up in logs.
func (c *Client) newAPIError(r request, path string, resp *http.Response) *APIError {
	body, _ := readAll(resp.Body, maxErrorBodyBytes)
	resp.Body.Close()
	e := &APIError{Status: resp.StatusCode, Method: r.method, Op: r.op, Path: path}
	if isRedirect(resp.StatusCode) {
		e.Message = c.scrubString(redirectMessage(r, resp.Header.Get("Location")))
		return e
	}
	var gh struct {
		Message          string `json:"message"`
		DocumentationURL string `json:"documentation_url"`
	}
	if err := json.Unmarshal(body, &gh); err == nil && gh.Message != "" {
		e.Message = c.scrubString(oneLine(gh.Message, 500))
		e.DocumentationURL = c.scrubString(gh.DocumentationURL)
	} else {
		e.Message = strings.ToLower(http.StatusText(resp.StatusCode))
		if e.Message == "" {
			e.Message = "unexpected status"
		}
		if len(bytes.TrimSpace(body)) > 0 {
			e.Message += " (non-JSON response body)"
		}
	}
	return e
}

// isRedirect reports whether status is a redirection; 304 is not one (it
// answers a conditional request).
func isRedirect(status int) bool {
	return status >= 300 && status < 400 && status != http.StatusNotModified
}

// redirectMessage describes a redirect that was not followed by the origin
// and path of its Location, leaving out the query (which may carry a token)
// and any credentials.
func redirectMessage(r request, location string) string {
	why := ""
	if r.method != http.MethodGet && r.method != http.MethodHead {
		why = " (a " + r.method + " never follows a redirect)"
	}
	if location == "" {
		return "redirect without a Location, not followed" + why
	}
	loc, err := r.u.Parse(location)
	if err != nil {
		return "redirect to an unparseable Location, not followed" + why
	}
	return fmt.Sprintf("redirect to %s%s not followed%s", httpsafe.Origin(loc), loc.EscapedPath(), why)
}

// emit reports an attempt to Config.Observe.
func (c *Client) emit(a Attempt) {
	if c.observe != nil {
		c.observe(a)
	}
}

// scrub replaces the token in err's text, as a last line of defence: no error
// this package returns may contain it, whatever a transport or server echoes.
func (c *Client) scrub(err error) error {
	if err == nil || !strings.Contains(err.Error(), c.token) {
		return err
	}
	return errors.New(c.scrubString(err.Error()))
}

// scrubString replaces the token in s.
func (c *Client) scrubString(s string) string {
	return strings.ReplaceAll(s, c.token, "[REDACTED]")
}

// cacheGet returns the cached answer for key.
func (c *Client) cacheGet(key string) (cacheEntry, bool) {
	e, ok := c.cache.Get(key)
	if !ok || e.ETag == "" {
		return cacheEntry{}, false
	}
	return cacheEntry{etag: e.ETag, body: e.Body, link: e.Link}, true
}

// cachePut stores an answer.
func (c *Client) cachePut(key string, e cacheEntry) {
	c.cache.Put(key, CacheEntry{ETag: e.etag, Body: e.body, Link: e.link})
}

// Get returns the cached answer for key.
func (m *memCache) Get(key string) (CacheEntry, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.m[key]
	return CacheEntry{ETag: e.etag, Body: e.body, Link: e.link}, ok
}

// Put stores an answer, clearing the cache first when it is full.
func (m *memCache) Put(key string, ce CacheEntry) {
	e := cacheEntry{etag: ce.ETag, body: ce.Body, link: ce.Link}
	size := len(key) + len(e.etag) + len(e.body) + len(e.link)
	if size > maxCacheBytes/16 {
		return // one huge answer must not flush everything else
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.m[key]; ok {
		m.bytes -= len(key) + len(old.etag) + len(old.body) + len(old.link)
		delete(m.m, key)
	}
	if len(m.m) >= maxCacheEntries || m.bytes+size > maxCacheBytes {
		clear(m.m)
		m.bytes = 0
	}
	m.m[key] = e
	m.bytes += size
}

// backoff returns the wait before retry number n+1: 1s, 2s, 4s…
func backoff(n int) time.Duration {
	if n > 10 {
		n = 10
	}
	return time.Second << n
}

// parseRate reads the x-ratelimit-* headers; Known is false without them.
func parseRate(h http.Header) Rate {
	limit, errL := strconv.Atoi(h.Get("X-RateLimit-Limit"))
	remaining, errR := strconv.Atoi(h.Get("X-RateLimit-Remaining"))
	if errL != nil || errR != nil {
		return Rate{}
	}
	r := Rate{Limit: limit, Remaining: remaining, Resource: h.Get("X-RateLimit-Resource"), Known: true}
	if used, err := strconv.Atoi(h.Get("X-RateLimit-Used")); err == nil {
		r.Used = used
	}
	if reset, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
		r.Reset = time.Unix(reset, 0)
	}
	return r
}

// readAll reads at most limit bytes and fails if the body is longer.
func readAll(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return b[:limit], fmt.Errorf("response body larger than %d bytes", limit)
	}
	return b, nil
}

// drain discards a body so the connection can be reused.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBodyBytes))
	resp.Body.Close()
}

// oneLine shortens s to at most n bytes on one line.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}
