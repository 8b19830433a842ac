package snapshot

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ghprune/ghprune/githubapi"
)

const small = `{"format":"ghprune-snapshot","version":1,"taken_at":"2026-12-01T10:00:00Z","api_url":"https://api.github.com",
"listings":[{"owner_kind":"org","owner":"acme","package_type":"npm","packages":[{"name":"lib","visibility":"private","version_count":2}]}],
"packages":[{"owner_kind":"org","owner":"acme","package_type":"npm","name":"lib","visibility":"private","version_count":2,
 "versions":[{"id":2,"name":"1.1.0","tags":null,"created_at":"2026-11-30T10:00:00Z","updated_at":"2026-11-30T10:00:00Z"},
             {"id":1,"name":"1.0.0","tags":null,"created_at_raw":"null"}],
 "download_limited":[1]}]}`

// A snapshot round-trips, plain and gzip-compressed, and answers the
// planner as GitHub did: the listing, the versions with their raw dates,
// the download-limit memory.
func TestSnapshot_RoundTripAndAnswers(t *testing.T) {
	s, err := Read(strings.NewReader(small))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"s.json", "s.json.gz"} {
		path := filepath.Join(dir, name)
		if err := s.Write(path); err != nil {
			t.Fatal(err)
		}
		raw, _ := os.ReadFile(path)
		if gz := raw[0] == 0x1f && raw[1] == 0x8b; gz != strings.HasSuffix(name, ".gz") {
			t.Errorf("%s: gzip %v", name, gz)
		}
		back, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		pkgs, err := back.ListPackages(ctx, githubapi.Org("acme"), "npm", "private")
		if err != nil || len(pkgs) != 1 || pkgs[0].VersionCount != 2 {
			t.Fatalf("%s: ListPackages %v %v", name, pkgs, err)
		}
		list, err := back.ListVersions(ctx, githubapi.Org("acme"), "npm", "lib", githubapi.ListVersionsOptions{})
		if err != nil || len(list.Versions) != 2 || list.Versions[1].RawCreatedAt != "null" || !list.Versions[1].CreatedAt.IsZero() ||
			!list.Versions[0].CreatedAt.Equal(time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)) {
			t.Errorf("%s: versions %+v %v", name, list.Versions, err)
		}
		refused, _ := back.Refused(ctx, "org", "acme", "npm", "lib", "download-limit")
		if !refused[1] || refused[2] {
			t.Errorf("%s: refused %v", name, refused)
		}
		if _, err := back.ListVersions(ctx, githubapi.Org("acme"), "npm", "other", githubapi.ListVersionsOptions{}); err == nil {
			t.Errorf("%s: a package not in the snapshot was listed", name)
		}
	}
}

// What is not a snapshot, or not one this ghprune reads, is refused with
// what is wrong; a gzip bomb is cut at MaxBytes.
func TestSnapshot_Refuses(t *testing.T) {
	for name, in := range map[string]string{
		"not JSON":       "hello",
		"other format":   `{"format":"something","version":1}`,
		"newer version":  `{"format":"ghprune-snapshot","version":2}`,
		"duplicate id":   strings.Replace(small, `"id":1,`, `"id":2,`, 1),
		"owner missing":  strings.Replace(small, `"owner":"acme","package_type":"npm","name":"lib"`, `"package_type":"npm","name":"lib"`, 1),
		"bad owner kind": strings.Replace(small, `"owner_kind":"org","owner":"acme","package_type":"npm","packages"`, `"owner_kind":"team","owner":"acme","package_type":"npm","packages"`, 1),
		"unknown field":  strings.Replace(small, `"tags":null,"created_at"`, `"tag":["prod"],"created_at"`, 1),
		"trailing data":  small + `{"format":"ghprune-snapshot"}`,
		"id 0":           strings.Replace(small, `"id":1,`, `"id":0,`, 1),
		"package twice": strings.Replace(small, `"download_limited":[1]}]}`,
			`"download_limited":[1]},{"owner_kind":"org","owner":"ACME","package_type":"npm","name":"lib","visibility":"private","versions":[]}]}`, 1),
		"digest twice": strings.NewReplacer(`"package_type":"npm"`, `"package_type":"container"`, `"1.1.0"`, `"sha256:aa"`, `"1.0.0"`, `"sha256:aa"`).Replace(small),
	} {
		if _, err := Read(strings.NewReader(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := Read(strings.NewReader(small + "\n\n")); err != nil {
		t.Errorf("trailing white space refused: %v", err)
	}
}

// Objects and list elements are bounded before anything is decoded: a
// few kilobytes of gzip holding millions of "{}," would decode into
// gigabytes of empty versions.
func TestSnapshot_ObjectsAndElementsAreBounded(t *testing.T) {
	defer func(o, e int64) { maxObjects, maxElements = o, e }(maxObjects, maxElements)
	maxObjects, maxElements = 1000, 4000
	for name, tc := range map[string]struct{ item, last, want string }{
		"objects":  {"{},", "{}", "more than 1000 objects"},
		"elements": {"1,", "1", "more than 4000 list elements"},
	} {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write([]byte(`{"format":"ghprune-snapshot","version":1,"packages":[{"owner_kind":"org","owner":"a","package_type":"npm","name":"x","download_limited":[`))
		zw.Write(bytes.Repeat([]byte(tc.item), 5000))
		zw.Write([]byte(tc.last + `]}]}`))
		zw.Close()
		if _, err := Read(&buf); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

func TestSnapshot_GzipBombIsCut(t *testing.T) {
	defer func(old int64) { maxBytes = old }(maxBytes)
	maxBytes = 4 << 20 // the bound is the same code at MaxBytes
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write([]byte(`{"format":"ghprune-snapshot","version":1,"api_url":"`))
	chunk := bytes.Repeat([]byte("a"), 1<<20)
	for i := 0; i < int(maxBytes>>20)+2; i++ {
		zw.Write(chunk)
	}
	zw.Close()
	_, err := Read(&buf)
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("a %d-byte gzip of more than %d bytes: %v", buf.Len(), maxBytes, err)
	}
}

// FuzzRead: whatever the bytes, Read answers, without a panic.
func FuzzRead(f *testing.F) {
	f.Add([]byte(small))
	f.Add([]byte(`{"format":"ghprune-snapshot","version":1,"packages":[{}]}`))
	f.Add([]byte{0x1f, 0x8b, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Read(bytes.NewReader(b))
		if err == nil && (s.Format != Format || s.Version != FormatVersion) {
			t.Fatalf("accepted %q", b)
		}
	})
}

// A snapshot no reader would take is not written.
func TestSnapshot_WriteRefusesWhatReadWould(t *testing.T) {
	s, err := Read(strings.NewReader(small))
	if err != nil {
		t.Fatal(err)
	}
	defer func(o int64) { maxObjects = o }(maxObjects)
	maxObjects = 3
	path := filepath.Join(t.TempDir(), "s.json.gz")
	if err := s.Write(path); err == nil || !strings.Contains(err.Error(), "more than 3 objects") {
		t.Errorf("Write: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the file was written: %v", err)
	}
}
