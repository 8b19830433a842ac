package simulator

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// placeholderRE matches a placeholder of a repeated fixture version: braces
// around an integer expression of i, such as {i}, {100-i} or {(i-1)%7+1}.
// Only those characters may appear and i must, so the braces of JSON in a
// manifest ({"n":{i}}) are never taken for one.
var placeholderRE = regexp.MustCompile(`\{[-+*/%() 0-9]*i[-+*/%() 0-9i]*\}`)

// hasPlaceholder reports whether s has a placeholder that fill replaces.
func hasPlaceholder(s string) bool { return placeholderRE.MatchString(s) }

// fill replaces every placeholder of s with its value for i. The error names
// the placeholder and i.
func fill(s string, i int) (string, error) {
	var err error
	out := placeholderRE.ReplaceAllStringFunc(s, func(m string) string {
		if err != nil {
			return m
		}
		var n int
		if n, err = evalExpr(m[1:len(m)-1], i); err != nil {
			err = fmt.Errorf("placeholder %s at i=%d: %w", m, i, err)
			return m
		}
		return strconv.Itoa(n)
	})
	return out, err
}

// evalExpr evaluates an integer expression of i with + - * / % (as in Go:
// division truncates), unary minus and parentheses.
func evalExpr(s string, i int) (int, error) {
	p := exprParser{s: s, i: i}
	v, err := p.sum()
	if err != nil {
		return 0, err
	}
	if p.skip(); p.pos < len(p.s) {
		return 0, fmt.Errorf("unexpected %q", p.s[p.pos:])
	}
	return v, nil
}

type exprParser struct {
	s   string
	pos int
	i   int
}

func (p *exprParser) skip() {
	for p.pos < len(p.s) && p.s[p.pos] == ' ' {
		p.pos++
	}
}

// peek returns the next byte after spaces, or 0 at the end.
func (p *exprParser) peek() byte {
	if p.skip(); p.pos < len(p.s) {
		return p.s[p.pos]
	}
	return 0
}

// sum is term (("+" | "-") term)*.
func (p *exprParser) sum() (int, error) {
	v, err := p.term()
	for err == nil {
		op := p.peek()
		if op != '+' && op != '-' {
			break
		}
		p.pos++
		var w int
		if w, err = p.term(); op == '+' {
			v += w
		} else {
			v -= w
		}
	}
	return v, err
}

// term is unary (("*" | "/" | "%") unary)*.
func (p *exprParser) term() (int, error) {
	v, err := p.unary()
	for err == nil {
		op := p.peek()
		if op != '*' && op != '/' && op != '%' {
			break
		}
		p.pos++
		var w int
		if w, err = p.unary(); err != nil {
			break
		}
		switch {
		case op == '*':
			v *= w
		case w == 0:
			err = fmt.Errorf("division by zero")
		case op == '/':
			v /= w
		default:
			v %= w
		}
	}
	return v, err
}

// unary is "-" unary | "i" | number | "(" sum ")".
func (p *exprParser) unary() (int, error) {
	switch c := p.peek(); {
	case c == '-':
		p.pos++
		v, err := p.unary()
		return -v, err
	case c == 'i':
		p.pos++
		return p.i, nil
	case c >= '0' && c <= '9':
		end := p.pos
		for end < len(p.s) && p.s[end] >= '0' && p.s[end] <= '9' {
			end++
		}
		v, err := strconv.Atoi(p.s[p.pos:end])
		if err != nil {
			return 0, fmt.Errorf("number %s out of range", p.s[p.pos:end])
		}
		p.pos = end
		return v, nil
	case c == '(':
		p.pos++
		v, err := p.sum()
		if err != nil {
			return 0, err
		}
		if p.peek() != ')' {
			return 0, fmt.Errorf("missing )")
		}
		p.pos++
		return v, nil
	case c == 0:
		return 0, fmt.Errorf("unexpected end")
	default:
		return 0, fmt.Errorf("unexpected %q", strings.TrimSpace(p.s[p.pos:]))
	}
}
