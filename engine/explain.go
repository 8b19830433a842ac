package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/ghprune/ghprune/policy"
)

// Explanation is every step of the decision order for one version.
type Explanation struct {
	Policy   *policy.Policy
	Package  string
	Steps    []policy.Step
	Decision policy.Decision
}

// ErrNoSuchVersion: explain found no active version by that name, tag or id.
var ErrNoSuchVersion = errors.New("no active version")

// ExplainAt lists one package of pol the way a plan does (GETs only) and
// walks the decision order, as of at (zero: now), for the version named by
// version: its name (a digest for containers), one of its tags, or its
// numeric id.
func (e *Engine) ExplainAt(ctx context.Context, pol *policy.Policy, pkg, version string, at time.Time) (*Explanation, error) {
	now := at
	if now.IsZero() {
		now = e.clock.Now()
	}
	vs, facts, err := e.planner.Versions(ctx, pol, pkg, now)
	if err != nil {
		return nil, err
	}
	var id int64
	n, numErr := strconv.ParseInt(version, 10, 64)
	for _, v := range vs {
		if v.Name == version || (numErr == nil && v.ID == n) || slices.Contains(v.Tags, version) {
			id = v.ID
			break
		}
	}
	if id == 0 {
		return nil, fmt.Errorf("%w %q in package %q (%d versions)", ErrNoSuchVersion, version, pkg, len(vs))
	}
	steps, d, err := pol.Explain(vs, id, now, facts)
	if err != nil {
		return nil, err
	}
	return &Explanation{Policy: pol, Package: pkg, Steps: steps, Decision: d}, nil
}
