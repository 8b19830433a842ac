package policy

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

var policyName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// PackageTypes are the package types of the GitHub Packages API.
var PackageTypes = []string{"npm", "maven", "rubygems", "docker", "nuget", "container"}

// validator checks a decoded config against its source nodes, so every
// problem is reported where it is written.
type validator struct {
	file string
	root *yaml.Node
	errs *Errors
	cfg  *Config
}

func (v *validator) errorf(path, format string, args ...any) {
	n := nodeAt(v.root, path)
	fe := &FieldError{File: v.file, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		fe.Line, fe.Column = n.Line, n.Column
	}
	v.errs.add(fe)
}

func (v *validator) warnf(path, format string, args ...any) {
	n := nodeAt(v.root, path)
	fe := &FieldError{File: v.file, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		fe.Line, fe.Column = n.Line, n.Column
	}
	v.cfg.Warnings = append(v.cfg.Warnings, fe)
}

func (c *Config) validate(root *yaml.Node, errs *Errors) {
	v := &validator{file: c.File, root: root, errs: errs, cfg: c}
	if c.Version != 1 {
		v.errorf("version", "unsupported version (this ghprune reads version 1), got %d", c.Version)
	}
	v.github()
	v.settings()
	v.policies()
}

// github checks the github section; registry_url, left out, is derived.
func (v *validator) github() {
	c := v.cfg
	urlsOK := true
	for _, k := range []struct{ path, val string }{{"github.api_url", c.GitHub.APIURL}, {"github.registry_url", c.GitHub.RegistryURL}} {
		if k.path == "github.registry_url" && !written(v.root, k.path) {
			continue // derived below
		}
		urlsOK = v.apiURL(k.path, k.val) && urlsOK
	}
	if urlsOK && !written(v.root, "github.registry_url") {
		v.registryURL()
	}
	if !envName.MatchString(c.GitHub.TokenEnv) || LooksLikeToken(c.GitHub.TokenEnv) {
		// Never echo the value: a token pasted here by mistake must not be printed.
		v.errorf("github.token_env", "must name an environment variable (letters, digits, underscores), not hold the token itself")
	}
	if c.GitHub.TokenFile != "" && written(v.root, "github.token_env") {
		v.errorf("github.token_file", "set token_env or token_file, not both")
	}
	if c.GitHub.APIVersion != "2022-11-28" && c.GitHub.APIVersion != "2026-03-10" {
		v.errorf("github.api_version", "unsupported API version (use 2022-11-28 or 2026-03-10), got %s", quote(c.GitHub.APIVersion))
	}
}

// apiURL checks the URL val at path and reports whether it is usable.
func (v *validator) apiURL(path, val string) bool {
	u, err := url.Parse(val)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		if shown, ok := urlForMessage(val); ok {
			v.errorf(path, "expected an http(s) URL, got %s", quote(shown))
		} else {
			v.errorf(path, "expected an http(s) URL (the value is not shown: it may hold credentials)")
		}
	case u.User != nil:
		// Never echo it: the user part is where a credential would be.
		v.errorf(path, "must not carry credentials (user:password@); the token comes from token_env or token_file")
	case u.RawQuery != "" || u.Fragment != "":
		// Not echoed either: a query is where a token would be.
		v.errorf(path, "must not have a query or fragment")
	default:
		return true
	}
	return false
}

// settings checks the limits, state and defaults sections.
func (v *validator) settings() {
	c := v.cfg
	if c.Limits.MutationsPerMinute <= 0 || c.Limits.MutationsPerMinute > 180 {
		v.errorf("limits.mutations_per_minute", "must be above 0 and at most 180 (GitHub's secondary limit for deletes), got %v", c.Limits.MutationsPerMinute)
	}
	if c.Limits.BudgetShare <= 0 || c.Limits.BudgetShare > 1 {
		v.errorf("limits.budget_share", "must be above 0 and at most 1, got %v", c.Limits.BudgetShare)
	}
	if d := c.Limits.MaxRunDuration; d < Duration(time.Minute) || d > MaxMaxRunDuration {
		v.errorf("limits.max_run_duration", "must be at least 1m and at most %s, got %s", MaxMaxRunDuration, d)
	}
	if c.State.Path == "" {
		v.errorf("state.path", "must not be empty")
	}
	if c.State.RetainDays < 0 {
		v.errorf("state.retain_days", "must not be negative, got %d", c.State.RetainDays)
	}
	v.mode("defaults.mode", c.Defaults.Mode)
	if _, err := time.LoadLocation(c.Defaults.Timezone); err != nil {
		v.errorf("defaults.timezone", "unknown time zone (use an IANA name such as Europe/Berlin, or UTC), got %s", quote(c.Defaults.Timezone))
	}
}

// policies checks every policy and that their names are unique.
func (v *validator) policies() {
	if len(v.cfg.Policies) == 0 {
		v.errorf("policies", "no policies: add at least one")
	}
	seen := map[string]int{}
	for i, p := range v.cfg.Policies {
		path := fmt.Sprintf("policies[%d]", i)
		if p == nil {
			v.errorf(path, "empty policy")
			continue
		}
		switch {
		case p.Name == "":
			v.errorf(path, "name is required")
		case !policyName.MatchString(p.Name):
			v.errorf(path+".name", "must be lowercase letters, digits and dashes, got %s", quote(p.Name))
		default:
			if j, dup := seen[p.Name]; dup {
				v.errorf(path+".name", "duplicate policy name (also policies[%d]), got %s", j, quote(p.Name))
			}
			seen[p.Name] = i
		}
		v.policy(path, p)
	}
}

// registryURL derives github.registry_url, left out of the file, from
// api_url. Where it cannot be derived, a policy that selects container
// packages needs it written: the token must never go to a registry the
// config neither names nor implies (ghcr.io for a GHES API, say). Without
// such a policy no registry is contacted, and none is needed.
func (v *validator) registryURL() {
	c := v.cfg
	if u, ok := DeriveRegistryURL(c.GitHub.APIURL); ok {
		c.GitHub.RegistryURL = u
		return
	}
	c.GitHub.RegistryURL = ""
	for i, p := range c.Policies {
		if p != nil && p.Select.PackageType == "container" {
			v.errorf("github.registry_url", "policies[%d] (%q) reads container manifests, and the Container registry cannot be derived from api_url %q "+
				"(only https://api.github.com, which uses https://ghcr.io, and GitHub Enterprise Server's https://HOST/api/v3, which uses https://containers.HOST); "+
				"set registry_url", i, p.Name, c.GitHub.APIURL)
			return
		}
	}
}

func (v *validator) mode(path string, m Mode) {
	if m != "" && m != ModePlan && m != ModeEnforce {
		v.errorf(path, "mode must be plan or enforce, got %s", quote(string(m)))
	}
}

func (v *validator) policy(path string, p *Policy) {
	if p.Schedule != "" {
		s, err := ParseSchedule(p.Schedule, v.cfg.Defaults.Timezone)
		if err != nil {
			v.errorf(path+".schedule", "%v", err)
		}
		p.schedule = s
	}
	v.mode(path+".mode", p.Mode)
	sel := p.Select
	if sel.Owner == "" {
		v.errorf(path+".select", "select.owner is required")
	}
	if sel.OwnerType != "org" && sel.OwnerType != "user" {
		v.errorf(path+".select.owner_type", "owner_type must be org or user, got %s", quote(sel.OwnerType))
	}
	if !contains(PackageTypes, sel.PackageType) {
		v.errorf(path+".select.package_type", "package_type must be one of %s, got %s", strings.Join(PackageTypes, ", "), quote(sel.PackageType))
	}
	for i, vis := range sel.Visibility {
		if vis != "public" && vis != "private" && vis != "internal" {
			v.errorf(fmt.Sprintf("%s.select.visibility[%d]", path, i), "visibility must be public, private or internal, got %s", quote(vis))
		}
	}
	v.globs(path+".select.packages", sel.Packages)
	v.globs(path+".select.exclude_packages", sel.ExcludePackages)
	v.globs(path+".protect.tags", p.Protect.Tags)
	v.globs(path+".protect.versions", p.Protect.Versions)
	if p.Protect.KeepAtLeast < 0 {
		v.errorf(path+".protect.keep_at_least", "must not be negative, got %d", p.Protect.KeepAtLeast)
	}
	for i, r := range p.Keep {
		v.rule(fmt.Sprintf("%s.keep[%d]", path, i), r, false, sel)
	}
	for i, r := range p.Delete {
		v.rule(fmt.Sprintf("%s.delete[%d]", path, i), r, true, sel)
	}
	v.ruleNames(path, p)
	if p.Limits.MaxDeletesPerRun < 0 {
		v.errorf(path+".limits.max_deletes_per_run", "must not be negative, got %d", p.Limits.MaxDeletesPerRun)
	}
	if p.Limits.MaxDeletePercent < 0 || p.Limits.MaxDeletePercent > 100 {
		v.errorf(path+".limits.max_delete_percent", "must be between 0 and 100, got %v", p.Limits.MaxDeletePercent)
	}
	if v.cfg.EffectiveMode(p) == ModeEnforce && p.Limits.MaxDeletesPerRun == 0 && p.Limits.MaxDeletePercent == 0 {
		v.warnf(path, "enforce policy %q has no limits (max_deletes_per_run, max_delete_percent): one bad rule could delete everything", p.Name)
	}
}

// ruleNames checks that p's rules, keep and delete, have distinct names:
// a report names the rule that decided.
func (v *validator) ruleNames(path string, p *Policy) {
	names := map[string]bool{}
	for i, r := range append(append([]*Rule{}, p.Keep...), p.Delete...) {
		if r == nil || r.Name == "" {
			continue
		}
		if names[r.Name] {
			kind, idx := "keep", i
			if i >= len(p.Keep) {
				kind, idx = "delete", i-len(p.Keep)
			}
			v.errorf(fmt.Sprintf("%s.%s[%d].name", path, kind, idx), "duplicate rule name in this policy, got %s", quote(r.Name))
		}
		names[r.Name] = true
	}
}

func (v *validator) rule(path string, r *Rule, isDelete bool, sel Select) {
	if r == nil {
		v.errorf(path, "empty rule")
		return
	}
	if r.Name == "" {
		// Reports name the deciding rule; a positional name would change
		// when rules are reordered, so it is required.
		v.errorf(path, "name is required (reports say which rule decided)")
	} else if !policyName.MatchString(r.Name) {
		v.errorf(path+".name", "must be lowercase letters, digits and dashes, got %s", quote(r.Name))
	}
	v.globs(path+".tags", r.Tags)
	v.globs(path+".exclude_tags", r.ExcludeTags)
	v.globs(path+".versions", r.Versions)
	v.ruleConditions(path, r, sel)
	if isDelete && !r.narrows() {
		v.errorf(path, "a delete rule needs older_than or a narrowing condition (untagged: true, tags, versions, prerelease: true, semver); as written it deletes nearly every version")
	}
}

// ruleConditions checks the values of r's conditions and that they fit
// sel's package type and each other.
func (v *validator) ruleConditions(path string, r *Rule, sel Select) {
	if r.AgeBasis != "" && r.AgeBasis != "created_at" && r.AgeBasis != "updated_at" {
		v.errorf(path+".age_basis", "age_basis must be created_at or updated_at, got %s", quote(r.AgeBasis))
	}
	if r.MostRecent != nil && *r.MostRecent < 0 {
		v.errorf(path+".most_recent", "must not be negative, got %d", *r.MostRecent)
	}
	untaggedTypes := !sel.IsContainer() && sel.PackageType != ""
	if r.Untagged != nil && untaggedTypes {
		v.errorf(path+".untagged", "untagged applies to container and docker packages only; %s versions have no tags", sel.PackageType)
	}
	if (len(r.Tags) > 0 || len(r.ExcludeTags) > 0) && untaggedTypes {
		v.errorf(path+".tags", "tags apply to container and docker packages only; match %s versions with versions or semver", sel.PackageType)
	}
	if r.OlderThan > 0 && r.NewerThan > 0 && r.NewerThan <= r.OlderThan {
		v.errorf(path, "newer_than %s and older_than %s together match nothing", r.NewerThan, r.OlderThan)
	}
}

// narrows reports whether r selects less than nearly every version, as a
// delete rule must. Negations (untagged: false, prerelease: false) select
// nearly everything, so they do not count.
func (r *Rule) narrows() bool {
	return r.OlderThan > 0 || boolOf(r.Untagged) || len(r.Tags) > 0 || len(r.Versions) > 0 || boolOf(r.Prerelease) || r.Semver != nil
}

func (v *validator) globs(path string, ps Patterns) {
	for i, p := range ps {
		if p.LooksLikeRegex() {
			v.warnf(fmt.Sprintf("%s[%d]", path, i), "glob %q looks like a regular expression; write re:%s if you meant one", p.src, p.src)
		}
	}
}

// maxEcho bounds a string value echoed in a message: a name megabytes
// long, or repeated through aliases, must not make megabytes of errors.
const maxEcho = 80

// quote formats a string value for the ", got VALUE" that ends a message
// about it: quoted as Go would, cut after maxEcho characters, with anything
// shaped like a token already redacted so that not even FieldError.Msg
// holds one.
func quote(s string) string {
	s = RedactTokens(s)
	if r := []rune(s); len(r) > maxEcho {
		s = string(r[:maxEcho]) + "…"
	}
	return strconv.Quote(s)
}

// urlForMessage returns val as a message about it may show it: without the
// user part, the query and the fragment, where a credential or a token
// would be. A value that does not parse as a URL is shown only when it has
// nowhere to hide one (no '@', ':', '?' or '#'); ok is false otherwise.
func urlForMessage(val string) (shown string, ok bool) {
	u, err := url.Parse(val)
	if err != nil || u.Opaque != "" {
		// "user:secret@host" parses with "secret@host" as its opaque part.
		return val, !strings.ContainsAny(val, "@:?#")
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String(), true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// nodeAt finds the node for a key path such as policies[2].delete[0].older_than,
// for locating a message: the key node for a mapping entry (so errors point
// at the key), the element for a list index. When the path does not exist in
// the source (a missing key, reported at its parent) it returns the deepest
// node found, so it must never be used to ask whether a key is set: that is
// written.
func nodeAt(root *yaml.Node, path string) *yaml.Node {
	n, _ := lookup(root, path)
	return n
}

// written reports whether path is written in the source, as opposed to
// taking its default.
func written(root *yaml.Node, path string) bool {
	_, exact := lookup(root, path)
	return exact
}

// lookup walks path from root. It returns the node found and whether it is
// the node of path itself (exact) or only the deepest parent that exists.
func lookup(root *yaml.Node, path string) (*yaml.Node, bool) {
	n := root
	for n != nil && n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if path == "" {
		return n, n != nil
	}
	var at *yaml.Node = n
	for _, seg := range strings.Split(path, ".") {
		key, idxs := seg, []int(nil)
		if i := strings.IndexByte(seg, '['); i >= 0 {
			key = seg[:i]
			for _, part := range strings.Split(strings.TrimSuffix(seg[i+1:], "]"), "][") {
				k, err := strconv.Atoi(part)
				if err != nil {
					return at, false
				}
				idxs = append(idxs, k)
			}
		}
		for n != nil && n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		if n == nil || n.Kind != yaml.MappingNode {
			return at, false
		}
		var val *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				at, val = n.Content[i], n.Content[i+1]
				break
			}
		}
		if val == nil {
			return at, false
		}
		n = val
		for _, k := range idxs {
			for n.Kind == yaml.AliasNode && n.Alias != nil {
				n = n.Alias
			}
			if n.Kind != yaml.SequenceNode || k >= len(n.Content) {
				return at, false
			}
			n = n.Content[k]
			at = n
		}
	}
	return at, true
}
