// Package forwarded decides who a request came from and whether it reached
// the edge over TLS when fleetsyncd runs behind reverse proxies. The
// X-Forwarded-For and X-Forwarded-Proto headers are believed only when the
// connection comes from a configured trusted proxy; from anyone else they are
// ignored (a client could write anything in them).
package forwarded

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

type ctxKey struct{}

// info is what the middleware established about a request.
type info struct {
	secure bool
}

// Middleware returns a handler that, for a connection from one of trusted,
// replaces r.RemoteAddr with the client address named by X-Forwarded-For
// (the right-most address that is not itself a trusted proxy) and records
// X-Forwarded-Proto: https as a secure request (or http as not). Otherwise
// a request is secure when r.TLS != nil, which Secure answers without a
// record, so only a request a proxy vouched for is copied. Secure and the rewritten RemoteAddr are then what
// the console's cookies, access logs and authentication warnings use.
func Middleware(trusted []netip.Prefix, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in := info{secure: r.TLS != nil}
		if peer, ok := addrOf(r.RemoteAddr); ok && isTrusted(trusted, peer) {
			if client, ok := clientFrom(trusted, r.Header.Values("X-Forwarded-For")); ok {
				r.RemoteAddr = net.JoinHostPort(client.String(), "0")
			}
			if p := lastValue(r.Header.Values("X-Forwarded-Proto")); p != "" {
				in.secure = strings.EqualFold(p, "https")
			}
		}
		if in.secure == (r.TLS != nil) {
			// What Secure answers without the record: no copy of the
			// request and its context (a few hundred bytes for as long
			// as a long poll is held).
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, in)))
	})
}

// Secure reports whether the client's connection was TLS: served over TLS
// here, or by a trusted proxy that said X-Forwarded-Proto: https.
func Secure(r *http.Request) bool {
	if in, ok := r.Context().Value(ctxKey{}).(info); ok {
		return in.secure
	}
	return r.TLS != nil
}

// Client is the request's client address without the port: the peer, or
// the client a trusted proxy named (Middleware rewrites RemoteAddr). The
// access log, the authentication warnings and the console's sign-in
// throttle all key on it.
func Client(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func addrOf(remote string) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func isTrusted(trusted []netip.Prefix, a netip.Addr) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientFrom walks X-Forwarded-For from the right (the hop nearest to us)
// and returns the first address that is not a trusted proxy: addresses to
// its left were written by the client itself and prove nothing.
func clientFrom(trusted []netip.Prefix, values []string) (netip.Addr, bool) {
	var hops []string
	for _, v := range values {
		hops = append(hops, strings.Split(v, ",")...)
	}
	var last netip.Addr
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := addrOf(strings.TrimSpace(hops[i]))
		if !ok {
			// Garbage from a client: stop at the last good hop.
			break
		}
		last = a
		if !isTrusted(trusted, a) {
			return a, true
		}
	}
	return last, last.IsValid()
}

func lastValue(values []string) string {
	if len(values) == 0 {
		return ""
	}
	parts := strings.Split(values[len(values)-1], ",")
	return strings.TrimSpace(parts[len(parts)-1])
}
