package policy

import (
	"fmt"
	"sort"
	"strings"
)

// FieldError is one problem in a config file, located by line, column and key
// path, e.g. `ghprune.yaml:12:20: policies[0].delete[0].older_than: unknown unit "x" in "30x"`.
type FieldError struct {
	File   string
	Line   int // 1-based; 0 when the problem has no single place
	Column int
	Path   string // dotted key path with list indexes
	Msg    string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	// Messages echo the values they complain about; a token pasted into
	// any of them (api_url, a path) must not be printed.
	return RedactTokens(b.String())
}

// maxErrors bounds the problems kept for one file: a machine-made file with
// 100,000 broken policies must not cost gigabytes of messages.
const maxErrors = 200

// Errors is every problem found in one config file, in file order. Loading
// reports them all at once so a user fixes a file in one pass; past
// maxErrors only the number of further problems is kept.
type Errors struct {
	List []*FieldError
	// More counts the problems found past the first maxErrors.
	More int
}

func (e *Errors) add(fe *FieldError) {
	if len(e.List) >= maxErrors {
		e.More++
		return
	}
	e.List = append(e.List, fe)
}

func (e *Errors) Error() string {
	msgs := make([]string, len(e.List), len(e.List)+1)
	for i, fe := range e.List {
		msgs[i] = fe.Error()
	}
	if e.More > 0 {
		msgs = append(msgs, fmt.Sprintf("… and %d more problems", e.More))
	}
	return strings.Join(msgs, "\n")
}

// err returns nil when there are no errors, else e sorted by position.
func (e *Errors) err() error {
	if len(e.List) == 0 {
		return nil
	}
	sort.SliceStable(e.List, func(i, j int) bool {
		a, b := e.List[i], e.List[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return e
}
