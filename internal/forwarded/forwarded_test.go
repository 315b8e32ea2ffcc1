package forwarded

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestMiddleware(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32")}
	cases := []struct {
		name       string
		remote     string
		tls        bool
		xff, proto []string
		wantAddr   string
		wantSecure bool
	}{
		{"direct plain", "192.0.2.7:5555", false, nil, nil, "192.0.2.7:5555", false},
		{"direct TLS", "192.0.2.7:5555", true, nil, nil, "192.0.2.7:5555", true},
		{"untrusted peer's headers ignored", "192.0.2.7:5555", false, []string{"203.0.113.9"}, []string{"https"}, "192.0.2.7:5555", false},
		{"trusted proxy", "127.0.0.1:4000", false, []string{"203.0.113.9"}, []string{"https"}, "203.0.113.9:0", true},
		{"trusted proxy says http", "127.0.0.1:4000", true, nil, []string{"http"}, "127.0.0.1:4000", false},
		{"spoofed left part skipped", "10.1.1.1:4000", false, []string{"6.6.6.6, 203.0.113.9, 10.2.2.2"}, nil, "203.0.113.9:0", false},
		{"several headers", "10.1.1.1:4000", false, []string{"6.6.6.6", "203.0.113.9"}, []string{"http", "https"}, "203.0.113.9:0", true},
		{"garbage hop", "10.1.1.1:4000", false, []string{"not-an-ip, 10.3.3.3"}, nil, "10.3.3.3:0", false},
		{"all trusted", "10.1.1.1:4000", false, []string{"10.3.3.3"}, nil, "10.3.3.3:0", false},
		{"ipv6 client", "127.0.0.1:4000", false, []string{"2001:db8::1"}, nil, "[2001:db8::1]:0", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var gotAddr, gotClient string
			var gotSecure bool
			h := Middleware(trusted, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotAddr, gotSecure, gotClient = r.RemoteAddr, Secure(r), Client(r)
			}))
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = c.remote
			if c.tls {
				r.TLS = &tls.ConnectionState{}
			}
			for _, v := range c.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			for _, v := range c.proto {
				r.Header.Add("X-Forwarded-Proto", v)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			if gotAddr != c.wantAddr || gotSecure != c.wantSecure {
				t.Fatalf("RemoteAddr, Secure = %q, %v; want %q, %v", gotAddr, gotSecure, c.wantAddr, c.wantSecure)
			}
			if host, _, _ := net.SplitHostPort(c.wantAddr); gotClient != host {
				t.Fatalf("Client = %q, want %q", gotClient, host)
			}
		})
	}
}

func TestSecureWithoutMiddleware(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	if Secure(r) {
		t.Fatal("plain request without middleware reported secure")
	}
	r.TLS = &tls.ConnectionState{}
	if !Secure(r) {
		t.Fatal("TLS request without middleware reported insecure")
	}
}
