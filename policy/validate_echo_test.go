package policy

import (
	"errors"
	"strings"
	"testing"
)

// echoBase is a valid config; each case below adds or replaces one part of
// it with a bad value.
const echoBase = "version: 1\npolicies:\n  - name: p\n    select: {owner: a, owner_type: org, package_type: container}\n"

// parseErrors parses src and returns its errors by key path; it fails the
// test when src is valid.
func parseErrors(t *testing.T, src string) map[string]*FieldError {
	t.Helper()
	_, err := Parse("f.yaml", []byte(src))
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Parse: %v; want *Errors", err)
	}
	out := map[string]*FieldError{}
	for _, fe := range errs.List {
		out[fe.Path] = fe
	}
	return out
}

// Every error about a bad value ends with ", got VALUE", the value as
// written (strings quoted), so a user sees what was read without opening
// the file: the duration errors always did.
func TestValidate_ErrorsEndWithTheValue(t *testing.T) {
	t.Parallel()
	pol := func(extra string) string { return echoBase + extra }
	cases := []struct {
		name, yaml, path, want string
	}{
		{"version", strings.Replace(echoBase, "version: 1", "version: 3", 1), "version", ", got 3"},
		{"api version", "github: {api_version: 2020-01-01}\n" + echoBase, "github.api_version", `, got "2020-01-01"`},
		{"api url scheme", "github: {api_url: 'ftp://ghes.example.test/api/v3'}\n" + echoBase, "github.api_url", `, got "ftp://ghes.example.test/api/v3"`},
		{"registry url without host", "github: {registry_url: 'https:///v2'}\n" + echoBase, "github.registry_url", `, got "https:///v2"`},
		{"mutations per minute", "limits: {mutations_per_minute: 500}\n" + echoBase, "limits.mutations_per_minute", ", got 500"},
		{"budget share", "limits: {budget_share: 1.5}\n" + echoBase, "limits.budget_share", ", got 1.5"},
		{"max run duration", "limits: {max_run_duration: 30s}\n" + echoBase, "limits.max_run_duration", ", got 30s"},
		{"retain days", "state: {retain_days: -3}\n" + echoBase, "state.retain_days", "must not be negative, got -3"},
		{"default mode", "defaults: {mode: sometimes}\n" + echoBase, "defaults.mode", `, got "sometimes"`},
		{"time zone", "defaults: {timezone: Mars/Olympus}\n" + echoBase, "defaults.timezone", `, got "Mars/Olympus"`},
		{"policy name", strings.Replace(echoBase, "name: p", "name: Bad_Name", 1), "policies[0].name", `, got "Bad_Name"`},
		{"duplicate policy name", echoBase + strings.TrimPrefix(echoBase, "version: 1\npolicies:\n"), "policies[1].name", `, got "p"`},
		{"policy mode", pol("    mode: yes-please\n"), "policies[0].mode", `, got "yes-please"`},
		{"owner type", strings.Replace(echoBase, "owner_type: org", "owner_type: team", 1), "policies[0].select.owner_type", `, got "team"`},
		{"package type", strings.Replace(echoBase, "package_type: container", "package_type: rpm", 1), "policies[0].select.package_type", `, got "rpm"`},
		{"visibility", strings.Replace(echoBase, "package_type: container}", "package_type: container, visibility: [secret]}", 1), "policies[0].select.visibility[0]", `, got "secret"`},
		{"keep at least", pol("    protect: {keep_at_least: -2}\n"), "policies[0].protect.keep_at_least", "keep_at_least: must not be negative, got -2"},
		{"most recent", pol("    keep: [{name: recent, most_recent: -1}]\n"), "policies[0].keep[0].most_recent", "must not be negative, got -1"},
		{"age basis", pol("    delete: [{name: old, older_than: 7d, age_basis: pushed_at}]\n"), "policies[0].delete[0].age_basis", `, got "pushed_at"`},
		{"rule name", pol("    delete: [{name: Old_Ones, older_than: 7d}]\n"), "policies[0].delete[0].name", `, got "Old_Ones"`},
		{"duplicate rule name", pol("    keep: [{name: r, most_recent: 3}]\n    delete: [{name: r, older_than: 7d}]\n"), "policies[0].delete[0].name", `, got "r"`},
		{"max deletes per run", pol("    limits: {max_deletes_per_run: -5}\n"), "policies[0].limits.max_deletes_per_run", "must not be negative, got -5"},
		{"max delete percent", pol("    limits: {max_delete_percent: 150}\n"), "policies[0].limits.max_delete_percent", "must be between 0 and 100, got 150"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fe, ok := parseErrors(t, c.yaml)[c.path]
			if !ok {
				t.Fatalf("no error at %s", c.path)
			}
			if got := fe.Error(); !strings.HasSuffix(got, c.want) {
				t.Errorf("error %q does not end with %q", got, c.want)
			}
		})
	}
}

// A URL's user part, query and fragment are where credentials and tokens
// would be: no message echoes them, even about another problem.
func TestValidate_URLErrorsNeverEchoCredentials(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, url, want string // want: what the message must say instead
	}{
		{"bad scheme with everything", "ftp://user:s3cret@ghes.example.test/api/v3?access=tok3n#fr4g", `, got "ftp://ghes.example.test/api/v3"`},
		{"no scheme", "user:s3cret@ghes.example.test", "not shown: it may hold credentials"},
		{"unparsable", "http://user:s3cret@[::1/tok3n", "not shown: it may hold credentials"},
		{"credentials", "https://user:s3cret@ghes.example.test/api/v3", "must not carry credentials"},
		{"query", "https://ghes.example.test/api/v3?access=tok3n#fr4g", "must not have a query or fragment"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fe, ok := parseErrors(t, "github: {api_url: '"+c.url+"'}\n"+echoBase)["github.api_url"]
			if !ok {
				t.Fatal("no error at github.api_url")
			}
			got := fe.Error()
			if !strings.Contains(got, c.want) {
				t.Errorf("error %q does not say %q", got, c.want)
			}
			for _, secret := range []string{"s3cret", "tok3n", "fr4g"} {
				if strings.Contains(got, secret) || strings.Contains(fe.Msg, secret) {
					t.Errorf("error %q echoes %q", got, secret)
				}
			}
		})
	}
}

// A token pasted where a name goes is not echoed, not even in the
// message kept in FieldError.Msg; a huge value is echoed cut short.
func TestValidate_EchoRedactsTokensAndCutsLongValues(t *testing.T) {
	t.Parallel()
	const token = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
	fe := parseErrors(t, strings.Replace(echoBase, "name: p", "name: "+token, 1))["policies[0].name"]
	if fe == nil || strings.Contains(fe.Msg, token) || !strings.HasSuffix(fe.Msg, `, got "`+Redacted+`"`) {
		t.Errorf("a token as a policy name: %+v", fe)
	}
	long := strings.Repeat("X", 10_000)
	fe = parseErrors(t, strings.Replace(echoBase, "owner_type: org", "owner_type: "+long, 1))["policies[0].select.owner_type"]
	if fe == nil || len(fe.Msg) > 200 || !strings.HasSuffix(fe.Msg, `, got "`+strings.Repeat("X", maxEcho)+`…"`) {
		t.Errorf("a 10,000-character owner_type is not cut short: %.300v", fe)
	}
}
