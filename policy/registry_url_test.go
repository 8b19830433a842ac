package policy

import (
	"strings"
	"testing"
)

// github.registry_url left out follows api_url: ghcr.io for github.com only,
// containers.HOST for GHES, and nothing (a located error when a policy reads
// container manifests) where it cannot be derived; the token must never be
// sent to a registry the config neither names nor implies.
func TestParse_RegistryURLDefault(t *testing.T) {
	t.Parallel()
	policies := func(types ...string) string {
		s := "policies:\n"
		for _, typ := range types {
			s += "  - name: p-" + typ + "\n    select: {owner: acme, owner_type: org, package_type: " + typ + "}\n"
		}
		return s
	}
	cases := []struct {
		name, github, policies string
		want                   string // the RegistryURL after Parse
		wantErr                string // the whole error, when Parse must fail
	}{
		{name: "github.com by default", policies: policies("container"), want: "https://ghcr.io"},
		{name: "github.com written", github: "  api_url: https://api.github.com/\n", policies: policies("container"), want: "https://ghcr.io"},
		{name: "GHES", github: "  api_url: https://ghes.example.test/api/v3\n", policies: policies("container"), want: "https://containers.ghes.example.test"},
		{name: "GHES with a slash and a port", github: "  api_url: https://GHES.example.test:8443/api/v3/\n", policies: policies("container"),
			want: "https://containers.ghes.example.test:8443"},
		{name: "GHES, registry written", github: "  api_url: https://ghes.example.test/api/v3\n  registry_url: https://registry.example.test\n",
			policies: policies("container"), want: "https://registry.example.test"},
		{name: "written ghcr.io is kept", github: "  api_url: https://ghes.example.test/api/v3\n  registry_url: https://ghcr.io\n",
			policies: policies("container"), want: "https://ghcr.io"},
		{name: "unknown API, registry written", github: "  api_url: http://127.0.0.1:8080\n  registry_url: http://127.0.0.1:8081\n",
			policies: policies("container"), want: "http://127.0.0.1:8081"},
		{name: "unknown API, no container policy: no registry", github: "  api_url: https://proxy.example.test/github\n",
			policies: policies("npm", "maven", "docker"), want: ""},
		{name: "unknown API, container policy", github: "  api_url: https://proxy.example.test/github\n", policies: policies("npm", "container"),
			wantErr: `f.yaml:2:1: github.registry_url: policies[1] ("p-container") reads container manifests, and the Container registry cannot be derived ` +
				`from api_url "https://proxy.example.test/github" (only https://api.github.com, which uses https://ghcr.io, and GitHub Enterprise Server's ` +
				`https://HOST/api/v3, which uses https://containers.HOST); set registry_url`},
		{name: "GHES by IP address, container policy", github: "  token_env: GH\n  api_url: https://10.0.0.7/api/v3\n", policies: policies("container"),
			wantErr: `f.yaml:2:1: github.registry_url: policies[0] ("p-container") reads container manifests, and the Container registry cannot be derived ` +
				`from api_url "https://10.0.0.7/api/v3"`},
		{name: "a bad api_url is reported once", github: "  api_url: ftp://ghes.example.test/api/v3\n", policies: policies("container"),
			wantErr: `f.yaml:3:3: github.api_url: expected an http(s) URL, got "ftp://ghes.example.test/api/v3"`},
		{name: "written empty is an error", github: "  registry_url: \"\"\n", policies: policies("container"),
			wantErr: `f.yaml:3:3: github.registry_url: expected an http(s) URL, got ""`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := "version: 1\n"
			if tc.github != "" {
				src += "github:\n" + tc.github
			}
			src += tc.policies
			cfg, err := Parse("f.yaml", []byte(src))
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v\nwant   %s", err, tc.wantErr)
				}
				if strings.Count(err.Error(), "\n") > 0 {
					t.Errorf("more than one error: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.GitHub.RegistryURL != tc.want {
				t.Errorf("registry_url = %q, want %q", cfg.GitHub.RegistryURL, tc.want)
			}
		})
	}
}

func TestDeriveRegistryURL(t *testing.T) {
	t.Parallel()
	for api, want := range map[string]string{
		"https://api.github.com":               "https://ghcr.io",
		"https://api.github.com:443":           "https://ghcr.io",
		"https://ghes.example.test/api/v3":     "https://containers.ghes.example.test",
		"http://ghes.example.test/api/v3":      "http://containers.ghes.example.test",
		"https://api.github.com/api/v3":        "",
		"https://api.github.com:8443":          "",
		"https://ghes.example.test":            "",
		"https://ghes.example.test/api/v4":     "",
		"https://[::1]/api/v3":                 "",
		"https://u:p@ghes.example.test/api/v3": "",
		"https://ghes.example.test/api/v3?x=1": "",
	} {
		got, ok := DeriveRegistryURL(api)
		if got != want || ok != (want != "") {
			t.Errorf("DeriveRegistryURL(%q) = %q, %v; want %q", api, got, ok, want)
		}
	}
}
