package admin

import (
	"net"
	"net/netip"
	"strings"
	"testing"
)

// needsDNS reports whether resolving a host:port would ask a name server:
// its host is neither empty, an IP literal nor localhost (from /etc/hosts).
func needsDNS(s string) bool {
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		return false // refused before any lookup
	}
	_, err = netip.ParseAddr(host)
	return host != "" && host != "localhost" && err != nil
}

// FuzzCheckAddress: any string is either accepted or refused with an error
// naming it; never a panic, and never port 123. Host names other than
// localhost are left out: resolving them would query the network's DNS.
func FuzzCheckAddress(f *testing.F) {
	for _, s := range []string{"127.0.0.1:9123", "[::1]:123", ":0", "localhost:http", "", "[::", "1.2.3.4:99999"} {
		f.Add(s, "127.0.0.1:11123")
	}
	f.Fuzz(func(t *testing.T, adminAddr, ntpAddr string) {
		if needsDNS(adminAddr) || needsDNS(ntpAddr) {
			t.Skip("tests send nothing beyond loopback: no DNS lookups")
		}
		err := CheckAddress(adminAddr, []string{ntpAddr})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "admin address ") {
				t.Fatalf("%q: %v", adminAddr, err)
			}
			return
		}
		if strings.HasSuffix(adminAddr, ":123") {
			t.Fatalf("%q accepted", adminAddr)
		}
	})
}

// FuzzInlineSVG: whatever a chart renderer returned, the result is an <svg>
// element with the title escaped, or an error.
func FuzzInlineSVG(f *testing.F) {
	f.Add([]byte("<?xml version=\"1.0\"?>\n<!-- x -->\n<svg width=\"720pt\" height=\"432pt\" viewBox=\"0 0 720 432\">\n</svg>\n"), "t")
	f.Add([]byte("<svg>"), "<script>")
	f.Fuzz(func(t *testing.T, doc []byte, title string) {
		out, err := inlineSVG(doc, title)
		if err != nil {
			return
		}
		if !strings.HasPrefix(string(out), `<svg role="img" aria-label="`) || strings.Contains(string(out)[:len(`<svg role="img" aria-label="`)+len(title)], "<script") {
			t.Fatalf("%q", out)
		}
	})
}
