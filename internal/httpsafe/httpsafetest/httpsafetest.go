// Package httpsafetest helps test clients against hostile servers over
// loopback: httptest servers that record what they were sent, and a
// transport that resolves made-up host names (api.example.test,
// evil.api.example.test) to them, so that a redirect to a subdomain, another
// port or another scheme is a real one, seen by net/http as such.
package httpsafetest

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Request is what a Server saw of one request.
type Request struct {
	Method string
	// Host is the Host header, e.g. "evil.api.example.test".
	Host  string
	Path  string
	Query string
	// Authorization is the Authorization header, "" if none was sent.
	Authorization string
}

// Server is an httptest server that records every request before its
// handler sees it.
type Server struct {
	*httptest.Server

	mu   sync.Mutex
	reqs []Request
}

// NewServer starts a plain-http Server with handler h, closed when t ends.
// A nil h answers 204 to everything, as a hostile server accepting a
// redirected DELETE would.
func NewServer(t testing.TB, h http.HandlerFunc) *Server {
	return start(t, h, false)
}

// NewTLSServer is NewServer over https, with httptest's certificate (valid for
// example.com and *.example.com; see Transport).
func NewTLSServer(t testing.TB, h http.HandlerFunc) *Server {
	return start(t, h, true)
}

func start(t testing.TB, h http.HandlerFunc, tls bool) *Server {
	t.Helper()
	if h == nil {
		h = func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }
	}
	s := &Server{}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.reqs = append(s.reqs, Request{Method: r.Method, Host: r.Host, Path: r.URL.EscapedPath(),
			Query: r.URL.RawQuery, Authorization: r.Header.Get("Authorization")})
		s.mu.Unlock()
		h(w, r)
	})
	if tls {
		s.Server = httptest.NewTLSServer(handler)
	} else {
		s.Server = httptest.NewServer(handler)
	}
	t.Cleanup(s.Close)
	return s
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// Addr returns the listener's address, "127.0.0.1:port".
func (s *Server) Addr() string { return s.Listener.Addr().String() }

// Transport returns an http.Transport that connects each "host:port" of
// routes (in lower case) to the Server given for it and refuses every other address, so
// that no request of a test can reach the network. It trusts the
// certificate of httptest's TLS servers and verifies it as example.com's,
// whatever host name the URL has.
func Transport(routes map[string]*Server) *http.Transport {
	var d net.Dialer
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			s, ok := routes[strings.ToLower(addr)]
			if !ok {
				return nil, fmt.Errorf("httpsafetest: no route to %s", addr)
			}
			return d.DialContext(ctx, network, s.Addr())
		},
		DisableKeepAlives: true,
	}
	for _, s := range routes {
		if s.TLS != nil {
			cfg := s.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
			cfg.ServerName = "example.com"
			tr.TLSClientConfig = cfg
			break
		}
	}
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{ServerName: "example.com"}
	}
	return tr
}
