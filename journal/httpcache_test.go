package journal

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Answers outlive the process that kept them, and the store stays within
// its bound by evicting what was used least recently.
func TestHTTPCache_PersistsAndEvictsLeastRecentlyUsed(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "j.db")
	j := open(t, path)
	body := []byte(strings.Repeat("x", 1000))
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Hour) } // use is marked at most hourly
	for i := 0; i < 10; i++ {
		if err := j.CacheAnswer(ctx, fmt.Sprintf("https://api/p%d", i), fmt.Sprintf(`"e%d"`, i), "", body, at(i), 0); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()

	j = open(t, path) // a new process
	etag, _, got, ok, err := j.CachedAnswer(ctx, "https://api/p3", at(20))
	if err != nil || !ok || etag != `"e3"` || string(got) != string(body) {
		t.Fatalf("after reopening: %q %v %v", etag, ok, err)
	}
	// p3 was used last; a bound of 5 answers keeps p3 and the newest put.
	const each = int64(len("https://api/p0") + len(`"e0"`) + 1000)
	if err := j.CacheAnswer(ctx, "https://api/new", `"n"`, "", body, at(30), 6*each); err != nil {
		t.Fatal(err)
	}
	kept := 0
	for i := 0; i < 10; i++ {
		if _, _, _, ok, _ := j.CachedAnswer(ctx, fmt.Sprintf("https://api/p%d", i), at(40)); ok {
			kept++
			if i != 3 && i < 7 {
				t.Errorf("p%d kept, though less recently used than p7..p9", i)
			}
		}
	}
	if _, _, _, ok, _ := j.CachedAnswer(ctx, "https://api/new", at(40)); !ok || kept == 0 || kept > 4 {
		t.Errorf("kept %d old answers and the new one %v; want p3 and the newest within the bound", kept, ok)
	}
}
