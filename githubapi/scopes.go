package githubapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// impliedScopes lists the classic scopes a scope grants besides itself.
// GitHub normalises X-OAuth-Scopes by dropping scopes implied by another one
// (a token created with write:packages and read:packages reports only
// write:packages), so a check must expand them. Only the packages hierarchy
// matters here; "repo" does not imply any packages scope, nor does
// delete:packages imply read:packages.
var impliedScopes = map[string][]string{
	"write:packages": {"read:packages"},
}

// Identity returns who the token belongs to and its classic scopes. It sends
// GET /user once and caches the answer for the client's lifetime. An Actions
// GITHUB_TOKEN is refused /user with 403 "Resource not accessible by
// integration"; that yields Identity{ScopesKnown: false} and no error, since
// such a token is valid for packages but cannot be checked in advance.
//
// GitHub docs: https://docs.github.com/en/rest/users/users#get-the-authenticated-user
func (c *Client) Identity(ctx context.Context) (Identity, error) {
	select {
	case c.idSem <- struct{}{}:
	case <-ctx.Done():
		return Identity{}, fmt.Errorf("identify token: %w", ctx.Err())
	}
	defer func() { <-c.idSem }()
	if c.identity != nil {
		return cloneIdentity(*c.identity), nil
	}

	// Not cacheable: the scopes live in a header that a 304 need not repeat.
	resp, err := c.do(ctx, request{op: opIdentity, method: http.MethodGet, u: c.endpoint("user")})
	if err != nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.integration {
			c.log.Info("token cannot read /user (Actions or App token); scopes cannot be checked in advance")
			c.identity = &Identity{}
			return Identity{}, nil
		}
		return Identity{}, fmt.Errorf("identify token: %w", err)
	}
	var body struct {
		Login string `json:"login"`
	}
	if err := json.Unmarshal(resp.body, &body); err != nil {
		return Identity{}, fmt.Errorf("identify token: decode user: %w", err)
	}
	id := Identity{Login: body.Login}
	// A header present but empty is a classic token with no scopes at all;
	// only an absent header means "unknown".
	if vals := resp.header.Values("X-OAuth-Scopes"); len(vals) > 0 {
		id.ScopesKnown = true
		id.Scopes = parseScopes(strings.Join(vals, ","))
	}
	c.identity = &id
	return cloneIdentity(id), nil
}

// CheckToken asks GitHub whether it accepts the token now: one GET /user
// every call, never cached (Identity caches), so that a revoked token is
// noticed. An Actions or App token, which /user refuses as an integration,
// counts as accepted. The error wraps ErrBadCredentials for a refused token.
//
// GitHub docs: https://docs.github.com/en/rest/users/users#get-the-authenticated-user
func (c *Client) CheckToken(ctx context.Context) error {
	_, err := c.do(ctx, request{op: opIdentity, method: http.MethodGet, u: c.endpoint("user")})
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.integration {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check token: %w", err)
	}
	return nil
}

// CheckScopes checks that the token has the classic scopes op needs on a
// container package (the registry with its own permissions). It returns a
// *ScopeError (errors.Is ErrMissingScope) naming the missing scopes, or nil
// when the scopes are sufficient or cannot be known (ScopesKnown false).
// Use CheckScopesFor for other package types, which also need "repo".
//
// GitHub docs:
//   - https://docs.github.com/en/rest/packages/packages#about-github-packages
//   - https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/scopes-for-oauth-apps
func (c *Client) CheckScopes(ctx context.Context, op Operation) error {
	return c.CheckScopesFor(ctx, op, "container")
}

// CheckScopesFor is CheckScopes for a package type. GitHub's endpoint docs
// say "if package_type is not container, your token must also include the
// repo scope": npm, maven, rubygems and nuget packages inherit repository
// permissions, and so do docker.pkg.github.com packages on GHES. An empty
// packageType checks the packages scopes only. The client calls it itself
// before every delete and restore; it costs one GET /user per client, then
// nothing.
//
// GitHub docs: https://docs.github.com/en/rest/packages/packages#about-github-packages
func (c *Client) CheckScopesFor(ctx context.Context, op Operation, packageType string) error {
	need, err := neededScopes(op, packageType)
	if err != nil {
		return err
	}
	id, err := c.Identity(ctx)
	if err != nil {
		return err
	}
	if !id.ScopesKnown {
		return nil
	}
	granted := map[string]bool{}
	for _, s := range id.Scopes {
		granted[s] = true
		for _, imp := range impliedScopes[s] {
			granted[imp] = true
		}
	}
	var missing []string
	for _, s := range need {
		if !granted[s] {
			missing = append(missing, s)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return &ScopeError{Op: op, Have: slices.Clone(id.Scopes), Need: need, Missing: missing}
}

// neededScopes returns the classic scopes op needs on packageType.
func neededScopes(op Operation, packageType string) ([]string, error) {
	var need []string
	switch op {
	case OpRead:
		need = []string{"read:packages"}
	case OpDelete:
		need = []string{"read:packages", "delete:packages"}
	case OpRestore:
		need = []string{"read:packages", "write:packages"}
	default:
		return nil, fmt.Errorf("check scopes: unknown operation %d: %w", int(op), ErrInvalid)
	}
	if packageType != "" && packageType != "container" {
		need = append(need, "repo")
	}
	return need, nil
}

// parseScopes splits "repo, read:packages" into its scopes.
func parseScopes(h string) []string {
	scopes := []string{}
	for _, s := range strings.Split(h, ",") {
		if s = strings.TrimSpace(s); s != "" {
			scopes = append(scopes, s)
		}
	}
	return scopes
}

func cloneIdentity(id Identity) Identity {
	id.Scopes = slices.Clone(id.Scopes)
	return id
}
