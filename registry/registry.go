// Package registry reads container manifests from an OCI registry (ghcr.io,
// or a GHES container host): the bearer-token exchange, content negotiation
// for OCI and Docker manifests and indexes, and digest verification. It is
// read-only: deletion goes through the packages API. It is small on
// purpose: ghprune needs two requests of the distribution API, and a cache
// keyed by digest that lives in the journal.
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
)

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
}

// Client reads manifests. Safe for concurrent use.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
	ua    string

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
	return &Client{base: u, token: token, http: httpsafe.Client(hc), ua: ua, bearers: map[string]string{}}, nil
}

// Fetches returns how many manifests were fetched: for a public image each
// one counts as a download on GitHub.
func (c *Client) Fetches() int64 {
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
func (c *Client) Fetch(ctx context.Context, repo, digest string) (*Manifest, error) {
	u := c.base.JoinPath("v2", repo, "manifests", digest)
	resp, err := c.get(ctx, repo, u.String())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("read manifest %s of %s: %w", digest, repo, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, fmt.Errorf("manifest %s of %s: %w", digest, repo, ErrManifestUnknown)
	case http.StatusUnauthorized, http.StatusForbidden:
		return nil, fmt.Errorf("manifest %s of %s: %w (%d)", digest, repo, ErrDenied, resp.StatusCode)
	default:
		return nil, fmt.Errorf("manifest %s of %s: registry answered %d", digest, repo, resp.StatusCode)
	}
	c.mu.Lock()
	c.fetches++
	c.mu.Unlock()
	if err := Verify(digest, body); err != nil {
		return nil, fmt.Errorf("manifest of %s: %w", repo, err)
	}
	mt := resp.Header.Get("Content-Type")
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

// get sends a GET with the repository's bearer token, obtaining one on a 401
// challenge.
func (c *Client) get(ctx context.Context, repo, u string) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", accept)
		req.Header.Set("User-Agent", c.ua)
		c.mu.Lock()
		bearer := c.bearers[repo]
		c.mu.Unlock()
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return nil, fmt.Errorf("registry GET %s: %w", redact(u), unwrapURL(err))
		}
		if resp.StatusCode != http.StatusUnauthorized || attempt > 0 {
			return resp, nil
		}
		challenge := resp.Header.Get("WWW-Authenticate")
		resp.Body.Close()
		tok, err := c.exchange(ctx, challenge, repo)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.bearers[repo] = tok
		c.mu.Unlock()
	}
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
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, ru.String(), nil)
		if err != nil {
			return "", err
		}
		req.Header.Set("User-Agent", c.ua)
		if basic {
			req.SetBasicAuth("ghprune", c.token)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return "", fmt.Errorf("registry token: %w", unwrapURL(err))
		}
		var body struct {
			Token       string `json:"token"`
			AccessToken string `json:"access_token"`
		}
		derr := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && derr == nil {
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

func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
