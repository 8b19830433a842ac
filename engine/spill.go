package engine

import (
	"bufio"
	"encoding/gob"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/ghprune/ghprune/plan"
	"github.com/ghprune/ghprune/policy"
)

// spill holds a policy's decisions on disk, a package at a time, while the
// run waits for the run cap and the deletes: a temporary file (in TMPDIR,
// an emptyDir in the shipped Deployment), removed at once where the
// system lets an open file be removed, else when closed.
type spill struct {
	f       *os.File
	w       *bufio.Writer
	enc     *gob.Encoder
	dec     *gob.Decoder
	removed bool
}

// spilled is one decision on disk.
type spilled struct {
	ID                         int64
	Name                       string
	Tags                       []string
	CreatedAt, UpdatedAt       time.Time
	RawCreatedAt, RawUpdatedAt string
	Action                     policy.Action
	Rule                       policy.RuleID
	Reason                     string
	Parents                    []string
}

func newSpill() (*spill, error) {
	f, err := os.CreateTemp("", "ghprune-plan-*.spill")
	if err != nil {
		return nil, err
	}
	s := &spill{f: f}
	if runtime.GOOS != "windows" {
		s.removed = os.Remove(f.Name()) == nil
	}
	s.w = bufio.NewWriterSize(f, 1<<16)
	s.enc = gob.NewEncoder(s.w)
	return s, nil
}

// put appends one package's decisions.
func (s *spill) put(ds []*plan.Decision) error {
	out := make([]spilled, len(ds))
	for i, d := range ds {
		v := d.Version
		out[i] = spilled{ID: v.ID, Name: v.Name, Tags: v.Tags, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt,
			RawCreatedAt: v.RawCreatedAt, RawUpdatedAt: v.RawUpdatedAt,
			Action: d.Action, Rule: d.Rule, Reason: d.Reason, Parents: d.Parents}
	}
	return s.enc.Encode(out)
}

// rewind ends writing and reads from the first package again.
func (s *spill) rewind() error {
	if err := s.w.Flush(); err != nil {
		return err
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	s.dec = gob.NewDecoder(bufio.NewReaderSize(s.f, 1<<16))
	return nil
}

// next reads the next package's decisions back, each with its own version.
func (s *spill) next() ([]*plan.Decision, error) {
	var in []spilled
	if err := s.dec.Decode(&in); err != nil {
		return nil, err
	}
	vs := make([]policy.Version, len(in))
	ds := make([]plan.Decision, len(in))
	out := make([]*plan.Decision, len(in))
	for i, x := range in {
		vs[i] = policy.Version{ID: x.ID, Name: x.Name, Tags: x.Tags, CreatedAt: x.CreatedAt, UpdatedAt: x.UpdatedAt,
			RawCreatedAt: x.RawCreatedAt, RawUpdatedAt: x.RawUpdatedAt}
		ds[i].Decision = policy.Decision{Version: &vs[i], Action: x.Action, Rule: x.Rule, Reason: x.Reason, Parents: x.Parents}
		out[i] = &ds[i]
	}
	return out, nil
}

// close removes the file; a nil spill is closed.
func (s *spill) close() {
	if s == nil {
		return
	}
	s.f.Close()
	if !s.removed {
		os.Remove(s.f.Name())
	}
}
