package githubapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// endlessPages answers page n (from ?page=n, 1 without) with body(n) and a
// next link to page n+1, a fresh URL every time, for up to giveUp pages, so
// that a client without a bound ends the test by succeeding.
func endlessPages(base *string, giveUp int, body func(n int) string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n := 1
		if p := r.URL.Query().Get("page"); p != "" {
			n, _ = strconv.Atoi(p)
		}
		if n < giveUp {
			q := r.URL.Query()
			q.Set("page", strconv.Itoa(n+1))
			w.Header().Set("Link", fmt.Sprintf(`<%s%s?%s>; rel="next"`, *base, r.URL.EscapedPath(), q.Encode()))
		}
		writeJSON(w, 200, body(n))
	}
}

func TestWalk_NextLinkOnEmptyPageStopsAfterOneRequest(t *testing.T) {
	t.Parallel()
	for name, list := range map[string]func(c *Client) error{
		"versions": func(c *Client) error {
			_, err := c.ListVersions(context.Background(), Org("acme"), "container", "api", ListVersionsOptions{VersionCount: 1000})
			return err
		},
		"versions without count": func(c *Client) error {
			_, err := c.ListVersions(context.Background(), Org("acme"), "container", "api", ListVersionsOptions{})
			return err
		},
		"packages": func(c *Client) error {
			_, err := c.ListPackages(context.Background(), Org("acme"), "container", "")
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var base string
			f := newFixture(t, endlessPages(&base, 50, func(int) string { return `[]` }))
			base = f.srv.URL
			err := list(f.c)
			if !errors.Is(err, ErrPagination) || !strings.Contains(err.Error(), "next link on an empty page") {
				t.Fatalf("err = %v, want ErrPagination for an empty page", err)
			}
			if got := len(f.Calls()); got != 1 {
				t.Errorf("%d requests, want 1", got)
			}
		})
	}
}

func TestListVersions_StopsAtPageCapFromVersionCount(t *testing.T) {
	t.Parallel()
	var base string
	f := newFixture(t, endlessPages(&base, 50, func(n int) string { return versionsPage(n*1000, 100) }))
	base = f.srv.URL
	_, err := f.c.ListVersions(context.Background(), Org("acme"), "container", "api", ListVersionsOptions{VersionCount: 250})
	// 250 versions are 3 pages of 100; the margin is 2 pages.
	if !errors.Is(err, ErrPagination) || !strings.Contains(err.Error(), "more pages than version_count 250 allows (5 pages)") {
		t.Fatalf("err = %v, want ErrPagination naming version_count 250 and 5 pages", err)
	}
	if got := len(f.Calls()); got != 5 {
		t.Errorf("%d requests, want 5", got)
	}
}

func TestListVersions_StopsAtPageCapFromVersionCountAndPerPage(t *testing.T) {
	t.Parallel()
	var base string
	f := newFixture(t, endlessPages(&base, 50, func(n int) string { return versionsPage(n*1000, 100) }), func(c *Config) { c.PerPage = 30 })
	base = f.srv.URL
	_, err := f.c.ListVersions(context.Background(), Org("acme"), "container", "api", ListVersionsOptions{VersionCount: 1000})
	// 1000 versions are 34 pages of 30; the margin is 10% of that, 3 pages.
	if !errors.Is(err, ErrPagination) || !strings.Contains(err.Error(), "(37 pages)") {
		t.Fatalf("err = %v, want ErrPagination after 37 pages", err)
	}
	if got := len(f.Calls()); got != 37 {
		t.Errorf("%d requests, want 37", got)
	}
}

// Without a count, every walk stops at the hard cap.
func TestListPackages_StopsAtHardCap(t *testing.T) {
	t.Parallel()
	var base string
	f := newFixture(t, endlessPages(&base, 50, func(n int) string { return fmt.Sprintf(`[{"id":%d,"name":"p%d"}]`, n, n) }))
	base = f.srv.URL
	f.c.maxPages = 4 // the real cap is 10,000 pages
	_, err := f.c.ListPackages(context.Background(), Org("acme"), "container", "")
	if !errors.Is(err, ErrPagination) || !strings.Contains(err.Error(), "more pages than any listing may have (4 pages)") {
		t.Fatalf("err = %v, want ErrPagination at the hard cap", err)
	}
	if got := len(f.Calls()); got != 4 {
		t.Errorf("%d requests, want 4", got)
	}
}

// version_count counts active versions: it does not bound deleted ones.
func TestListVersions_DeletedStateIgnoresVersionCount(t *testing.T) {
	t.Parallel()
	var base string
	f := newFixture(t, endlessPages(&base, 6, func(n int) string { return versionsPage(n*1000, 100) }))
	base = f.srv.URL
	list, err := f.c.ListVersions(context.Background(), Org("acme"), "container", "api", ListVersionsOptions{State: StateDeleted, VersionCount: 1})
	if err != nil {
		t.Fatal(err)
	}
	if list.Pages != 6 || len(list.Versions) != 600 {
		t.Errorf("%d versions on %d pages, want 600 on 6", len(list.Versions), list.Pages)
	}
}

// A version pushed while the listing is paged moves the others down a
// place: the last version of page 1 comes again first on page 2.
func TestListVersions_ReportsDuplicatesOfAShiftedListing(t *testing.T) {
	t.Parallel()
	var base string
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("page") == "" {
			w.Header().Set("Link", fmt.Sprintf(`<%s/organizations/1/packages/container/api/versions?page=2>; rel="next"`, base))
			writeJSON(w, 200, versionsPage(8, 3)) // 8, 9, 10
			return
		}
		writeJSON(w, 200, versionsPage(10, 3)) // 10 again, 11, 12
	})
	base = f.srv.URL
	list, err := f.c.ListVersions(context.Background(), Org("acme"), "container", "api", ListVersionsOptions{VersionCount: 5})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, v := range list.Versions {
		ids = append(ids, v.ID)
	}
	if diff := cmp.Diff([]int64{8, 9, 10, 11, 12}, ids); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
	if list.Duplicates != 1 || list.Pages != 2 {
		t.Errorf("Duplicates = %d, Pages = %d; want 1 and 2", list.Duplicates, list.Pages)
	}
}

func TestCountCap(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ count, perPage, want int }{
		{1, 100, 3},
		{100, 100, 3},
		{101, 100, 4},
		{250, 100, 5},
		{10_000, 100, 110},
		{100_000, 100, 1100},
		{31, 30, 4},
	} {
		if got := countCap(tc.count, tc.perPage).pages; got != tc.want {
			t.Errorf("countCap(%d, %d) = %d pages, want %d", tc.count, tc.perPage, got, tc.want)
		}
	}
}
