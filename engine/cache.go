package engine

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/ghprune/ghprune/githubapi"
	"github.com/ghprune/ghprune/internal/clock"
	"github.com/ghprune/ghprune/journal"
)

// journalCache keeps the client's GET answers in the journal, so that a new
// process (a CLI run, a CronJob, a restarted pod) revalidates what it read
// before with If-None-Match: GitHub answers an unchanged page 304, which
// costs no rate limit. A failure to read or write it only costs a request.
type journalCache struct {
	j     *journal.Journal
	clock clock.Clock
	log   *zap.Logger
}

var _ githubapi.Cache = journalCache{}

const cacheTimeout = 10 * time.Second

// Get returns the kept answer for key.
func (c journalCache) Get(key string) (githubapi.CacheEntry, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), cacheTimeout)
	defer cancel()
	etag, link, body, ok, err := c.j.CachedAnswer(ctx, key, c.clock.Now())
	if err != nil {
		c.log.Debug("cached answer not read", zap.Error(err))
		return githubapi.CacheEntry{}, false
	}
	return githubapi.CacheEntry{ETag: etag, Link: link, Body: body}, ok
}

// Put keeps an answer.
func (c journalCache) Put(key string, e githubapi.CacheEntry) {
	ctx, cancel := context.WithTimeout(context.Background(), cacheTimeout)
	defer cancel()
	if err := c.j.CacheAnswer(ctx, key, e.ETag, e.Link, e.Body, c.clock.Now(), journal.DefaultCacheBytes); err != nil {
		c.log.Debug("answer not cached", zap.Error(err))
	}
}
