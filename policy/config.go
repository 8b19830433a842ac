// Package policy is ghprune's configuration and its decisions: the strict YAML
// loader with located errors, validation and lint, and Decide, a pure function
// of a policy, a package's versions and the time that says keep or delete for
// every version, with the rule and a reason. It imports no other ghprune package.
package policy

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"
)

// Mode says whether a policy deletes.
type Mode string

// Modes. Plan is the default everywhere: nothing is deleted unless a policy
// says enforce.
const (
	ModePlan    Mode = "plan"
	ModeEnforce Mode = "enforce"
)

// Config is one configuration file: GitHub access, shared limits, the journal
// and the policies.
type Config struct {
	Version  int           `yaml:"version"`
	GitHub   GitHub        `yaml:"github"`
	Limits   GlobalLimits  `yaml:"limits"`
	State    State         `yaml:"state"`
	Defaults Defaults      `yaml:"defaults"`
	Policies []*Policy     `yaml:"policies"`
	File     string        `yaml:"-"` // where it was loaded from
	Warnings []*FieldError `yaml:"-"` // lint findings that do not stop a run
}

// GitHub says where the API is and how to authenticate.
type GitHub struct {
	APIURL string `yaml:"api_url"`
	// RegistryURL is the Container registry that manifests are read from.
	// Left out of the file, validation derives it from APIURL (see
	// DeriveRegistryURL); it stays "" when it cannot be derived and no policy
	// selects container packages: then no registry is contacted at all.
	RegistryURL string `yaml:"registry_url"`
	TokenEnv    string `yaml:"token_env"`
	TokenFile   string `yaml:"token_file"`
	APIVersion  string `yaml:"api_version"`
}

// GlobalLimits are shared by every policy using the token.
type GlobalLimits struct {
	// MutationsPerMinute paces deletes and restores; GitHub asks for at least
	// one second between mutative requests, hence the default of 60.
	MutationsPerMinute float64 `yaml:"mutations_per_minute"`
	// BudgetShare is the share of the token's hourly primary limit a run may use.
	BudgetShare float64 `yaml:"budget_share"`
	// MaxRunDuration bounds a run: past it, what the run has not done
	// (packages not listed, deletes not sent) is deferred to the next run.
	// A run whose budget is spent waits for the window to reset only when
	// the reset comes before this.
	MaxRunDuration Duration `yaml:"max_run_duration"`
}

// State locates the journal.
type State struct {
	Path string `yaml:"path"`
	// RetainDays prunes journal rows older than this many days (0 = default 90).
	RetainDays int `yaml:"retain_days"`
}

// Defaults apply to every policy that does not say otherwise.
type Defaults struct {
	Mode     Mode   `yaml:"mode"`
	Timezone string `yaml:"timezone"`
}

// Policy is one retention policy: which packages, what is protected, kept and deleted.
type Policy struct {
	Name     string       `yaml:"name"`
	Schedule string       `yaml:"schedule"`
	Mode     Mode         `yaml:"mode"`
	Select   Select       `yaml:"select"`
	Protect  Protect      `yaml:"protect"`
	Keep     []*Rule      `yaml:"keep"`
	Delete   []*Rule      `yaml:"delete"`
	Limits   PolicyLimits `yaml:"limits"`

	schedule cron.Schedule
}

// Select chooses the packages a policy governs.
type Select struct {
	Owner           string   `yaml:"owner"`
	OwnerType       string   `yaml:"owner_type"`
	PackageType     string   `yaml:"package_type"`
	Packages        Patterns `yaml:"packages"`
	ExcludePackages Patterns `yaml:"exclude_packages"`
	Visibility      []string `yaml:"visibility"`
}

// Protect lists what is never deleted, whatever the rules say.
type Protect struct {
	Tags      Patterns `yaml:"tags"`
	Versions  Patterns `yaml:"versions"`
	NewerThan Duration `yaml:"newer_than"`
	// KeepAtLeast: the newest N versions of each package always survive.
	KeepAtLeast int `yaml:"keep_at_least"`
}

// Rule is a keep or delete rule; its conditions are ANDed.
type Rule struct {
	Name        string      `yaml:"name"`
	Tags        Patterns    `yaml:"tags"`
	ExcludeTags Patterns    `yaml:"exclude_tags"`
	Untagged    *bool       `yaml:"untagged"`
	Versions    Patterns    `yaml:"versions"`
	Prerelease  *bool       `yaml:"prerelease"`
	Semver      *Constraint `yaml:"semver"`
	OlderThan   Duration    `yaml:"older_than"`
	NewerThan   Duration    `yaml:"newer_than"`
	AgeBasis    string      `yaml:"age_basis"`
	MostRecent  *int        `yaml:"most_recent"`

	descOnce                  sync.Once // describe() caches the version-independent part of reasons
	desc, quotedName, tagList string
	keepLabel, deleteLabel    RuleID
}

// PolicyLimits bound what one run of a policy may delete.
type PolicyLimits struct {
	// MaxDeletesPerRun: the rest is deferred to the next run, oldest deleted first. 0 = no cap.
	MaxDeletesPerRun int `yaml:"max_deletes_per_run"`
	// MaxDeletePercent: a package whose plan deletes more than this share of
	// its versions is left whole (circuit breaker). 0 = no breaker.
	MaxDeletePercent float64 `yaml:"max_delete_percent"`
}

// Defaults applied before decoding.
const (
	DefaultConfigFile         = "ghprune.yaml"
	DefaultAPIURL             = "https://api.github.com"
	DefaultRegistryURL        = "https://ghcr.io" // the registry of DefaultAPIURL only
	DefaultTokenEnv           = "GITHUB_TOKEN"
	DefaultAPIVersion         = "2022-11-28"
	DefaultMutationsPerMinute = 60
	DefaultBudgetShare        = 0.5
	DefaultMaxRunDuration     = Duration(6 * time.Hour)
	MaxMaxRunDuration         = Duration(7 * 24 * time.Hour)
	DefaultStatePath          = "ghprune.db"
	DefaultRetainDays         = 90
)

// DefaultConfig returns a Config with every default set. GitHub.RegistryURL
// is left empty: its default depends on api_url, so validation derives it
// once the file is decoded.
func DefaultConfig() *Config {
	return &Config{
		Version: 1,
		GitHub: GitHub{
			APIURL:     DefaultAPIURL,
			TokenEnv:   DefaultTokenEnv,
			APIVersion: DefaultAPIVersion,
		},
		Limits:   GlobalLimits{MutationsPerMinute: DefaultMutationsPerMinute, BudgetShare: DefaultBudgetShare, MaxRunDuration: DefaultMaxRunDuration},
		State:    State{Path: DefaultStatePath, RetainDays: DefaultRetainDays},
		Defaults: Defaults{Mode: ModePlan, Timezone: "UTC"},
	}
}

// LoadFile reads, decodes and validates the config at path. A returned
// *Errors lists every problem with its position; warnings of a valid file are
// in Config.Warnings.
func LoadFile(path string) (*Config, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// ReadFile reads a config file, at most MaxFileBytes and one byte more so
// that Parse can refuse a bigger one without reading it whole.
func ReadFile(path string) ([]byte, error) { return ReadBounded(path, "config", MaxFileBytes) }

// ReadBounded reads the file at path, at most limit bytes and one more, so
// that its parser can refuse a bigger one without it being read whole;
// what names the file's kind in errors.
func ReadBounded(path, what string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", what, path, err)
	}
	return data, nil
}

// Parse decodes and validates data; file names the source in errors.
func Parse(file string, data []byte) (*Config, error) {
	cfg, _, err := parse(file, data)
	return cfg, err
}

// parse is Parse, also returning the decoder (nil when the YAML did not
// parse) so tests can check the work it did against its budget.
func parse(file string, data []byte) (*Config, *decoder, error) {
	cfg := DefaultConfig()
	cfg.File = file
	errs := &Errors{}
	if len(data) > MaxFileBytes {
		errs.add(&FieldError{File: file, Msg: fmt.Sprintf("the file is over %d bytes; a ghprune config is at most that", MaxFileBytes)})
		return nil, nil, errs.err()
	}
	if line, n := countValues(data); n > maxValues {
		// yaml.v3 builds a node of some 200 bytes for every value before
		// anything here can look at it: bound them first.
		errs.add(&FieldError{File: file, Line: line, Column: 1,
			Msg: fmt.Sprintf("the file holds more than %d values; a ghprune config needs a few thousand", maxValues)})
		return nil, nil, errs.err()
	}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if err == io.EOF {
			errs.add(&FieldError{File: file, Msg: "the file is empty"})
			return nil, nil, errs.err()
		}
		errs.add(yamlSyntaxError(file, err))
		return nil, nil, errs.err()
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		errs.add(&FieldError{File: file, Line: extra.Line, Column: extra.Column, Msg: "more than one YAML document; put everything in one"})
	}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	d := newDecoder(file, errs, doc)
	d.decode(doc, reflect.ValueOf(cfg).Elem(), keyPath{idx: -1})
	if d.over {
		// A budget ran out (aliases, or the file's patterns): validation
		// would walk what was refused.
		return nil, d, errs.err()
	}
	cfg.validate(doc, errs)
	if err := errs.err(); err != nil {
		return nil, d, err
	}
	return cfg, d, nil
}

// maxValues bounds the values a config may hold, so that the YAML parser's
// node tree stays small (about 40 MB at the bound); real configs hold a few
// thousand, a 1 MB one with 2,000 policies about 100,000.
const maxValues = 200_000

// countValues estimates the values in data from one pass over its bytes,
// without parsing: one per line that is not blank or a comment, plus one per
// flow separator (",") and per mapping or sequence indicator (": ", "- ",
// a final ":") within it. Lines end where YAML says they do: at LF, CR,
// NEL, LS or PS. It returns the line where the count first passed
// maxValues.
func countValues(data []byte) (line, n int) { return CountValues(data, maxValues) }

// CountValues is countValues for another YAML input (a policy tests file)
// and its own bound: it stops counting, and returns the line, once the
// count passes limit.
func CountValues(data []byte, limit int) (line, n int) {
	for ln := 1; len(data) > 0; ln++ {
		l := data
		if i, size := lineBreak(data); i >= 0 {
			l, data = data[:i], data[i+size:]
		} else {
			data = nil
		}
		t := bytes.TrimSpace(l)
		if len(t) == 0 || t[0] == '#' {
			continue
		}
		n += 1 + bytes.Count(t, []byte(",")) + bytes.Count(t, []byte(": ")) + bytes.Count(t, []byte("- "))
		if t[len(t)-1] == ':' {
			n++ // a key whose value is on the next lines, or null
		}
		if n > limit {
			return ln, n
		}
	}
	return 0, n
}

// lineBreak finds the first YAML line break in b: its index and length,
// or -1.
func lineBreak(b []byte) (int, int) {
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '\n':
			return i, 1
		case c == '\r':
			if i+1 < len(b) && b[i+1] == '\n' {
				return i, 2
			}
			return i, 1
		case c == 0xC2 && i+1 < len(b) && b[i+1] == 0x85: // NEL
			return i, 2
		case c == 0xE2 && i+2 < len(b) && b[i+1] == 0x80 && (b[i+2] == 0xA8 || b[i+2] == 0xA9): // LS, PS
			return i, 3
		}
	}
	return -1, 0
}

// MaxFileBytes is the largest config file read: a ghprune config with two
// thousand policies is about 1 MB.
const MaxFileBytes = 4 << 20

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func yamlSyntaxError(file string, err error) *FieldError {
	fe := &FieldError{File: file, Msg: err.Error()}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		fmt.Sscanf(m[1], "%d", &fe.Line)
		fe.Column = 1
		fe.Msg = m[2]
	}
	return fe
}

// Policy returns the policy named name, or nil.
func (c *Config) Policy(name string) *Policy {
	for _, p := range c.Policies {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// EffectiveMode is the policy's mode, or the default's.
func (c *Config) EffectiveMode(p *Policy) Mode {
	if p.Mode != "" {
		return p.Mode
	}
	if c.Defaults.Mode != "" {
		return c.Defaults.Mode
	}
	return ModePlan
}

// CronSchedule returns the parsed schedule (nil when the policy has none).
func (p *Policy) CronSchedule() cron.Schedule { return p.schedule }

// IsContainer reports whether the policy governs container images, whose
// versions are manifests with tags.
func (s Select) IsContainer() bool {
	return s.PackageType == "container" || s.PackageType == "docker"
}

// DeriveRegistryURL returns the Container registry that goes with the API
// at apiURL, the only registry the token may be sent to when the config names
// none: https://ghcr.io for github.com's API (https://api.github.com), and
// https://containers.HOST for GitHub Enterprise Server's (https://HOST/api/v3),
// where the Container registry needs subdomain isolation. ok is false for any
// other API URL, and for a GHES addressed by IP address (which has no
// subdomains): the registry must then be configured.
func DeriveRegistryURL(apiURL string) (registryURL string, ok bool) {
	u, err := url.Parse(strings.TrimRight(apiURL, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", false
	}
	switch {
	case strings.EqualFold(u.Hostname(), "api.github.com") && (u.Port() == "" || u.Port() == "443") && u.Path == "":
		return DefaultRegistryURL, true
	case strings.HasSuffix(u.Path, "/api/v3") && net.ParseIP(u.Hostname()) == nil && !isGitHubCom(u.Hostname()):
		return u.Scheme + "://containers." + strings.ToLower(u.Host), true
	}
	return "", false
}

// isGitHubCom reports whether host is github.com's: no GHES lives there.
func isGitHubCom(host string) bool {
	host = strings.ToLower(host)
	return host == "github.com" || strings.HasSuffix(host, ".github.com")
}

// scheduleParser accepts 5-field cron, descriptors (@daily, @every 6h) and a
// CRON_TZ= prefix.
var scheduleParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule parses a policy schedule in the default time zone tz.
func ParseSchedule(spec, tz string) (cron.Schedule, error) {
	s := strings.TrimSpace(spec)
	if tz != "" && tz != "UTC" && !strings.HasPrefix(s, "CRON_TZ=") && !strings.HasPrefix(s, "TZ=") && !strings.HasPrefix(s, "@every") {
		s = "CRON_TZ=" + tz + " " + s
	}
	sched, err := scheduleParser.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("invalid schedule %q: %v", spec, err)
	}
	return sched, nil
}
