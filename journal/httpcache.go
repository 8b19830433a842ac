package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// DefaultCacheBytes bounds the answers the journal keeps for conditional
// requests: the pages of some 2,000 packages of 100,000 versions in all.
const DefaultCacheBytes = 128 << 20

// CachedAnswer returns the answer kept for key (a URL) and marks it used;
// ok is false when there is none.
func (j *Journal) CachedAnswer(ctx context.Context, key string, now time.Time) (etag, link string, body []byte, ok bool, err error) {
	err = j.cache.QueryRowContext(ctx, `SELECT etag, link, body FROM http_cache WHERE key=?`, key).Scan(&etag, &link, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", nil, false, nil
	}
	if err != nil {
		return "", "", nil, false, fmt.Errorf("read cached answer: %w", err)
	}
	// Marked at most once an hour: eviction needs the order of use, not
	// every read written.
	if _, err := j.cache.ExecContext(ctx, `UPDATE http_cache SET used_at=? WHERE key=? AND used_at<?`,
		fmtTime(now), key, fmtTime(now.Add(-time.Hour))); err != nil {
		return "", "", nil, false, fmt.Errorf("mark cached answer used: %w", err)
	}
	return etag, link, body, true, nil
}

// CacheAnswer keeps an answer for key, and evicts the answers used least
// recently while the cache holds more than maxBytes (0 = DefaultCacheBytes):
// what a run no longer asks for goes first.
func (j *Journal) CacheAnswer(ctx context.Context, key, etag, link string, body []byte, now time.Time, maxBytes int64) error {
	if maxBytes <= 0 {
		maxBytes = DefaultCacheBytes
	}
	size := int64(len(key) + len(etag) + len(link) + len(body))
	if size > maxBytes/4 {
		return nil // one huge answer must not push everything else out
	}
	tx, err := j.cache.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("cache answer: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO http_cache (key, etag, link, body, size, used_at) VALUES (?,?,?,?,?,?)`,
		key, etag, link, body, size, fmtTime(now)); err != nil {
		return fmt.Errorf("cache answer: %w", err)
	}
	var total int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(size), 0) FROM http_cache`).Scan(&total); err != nil {
		return fmt.Errorf("cache answer: %w", err)
	}
	if total > maxBytes {
		// Drop the least recently used down to nine tenths, so that not
		// every later answer has to evict.
		if _, err := tx.ExecContext(ctx, `DELETE FROM http_cache WHERE key IN (
			SELECT key FROM (SELECT key, SUM(size) OVER (ORDER BY used_at DESC, key) AS running FROM http_cache)
			WHERE running > ?)`, maxBytes*9/10); err != nil {
			return fmt.Errorf("evict cached answers: %w", err)
		}
	}
	return tx.Commit()
}
