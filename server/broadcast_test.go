package server

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/ntp"
)

func prefixes(t testing.TB, ss ...string) []netip.Prefix {
	t.Helper()
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

// TestDirectedBroadcasts: the directed broadcast of every IPv4 prefix
// shorter than /31 (an interface's address with its prefix length, host
// bits and all), none for /31, /32 and IPv6, each once, in order.
func TestDirectedBroadcasts(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want []netip.Addr
	}{
		{nil, addrs()},
		{[]string{"192.168.1.10/24"}, addrs("192.168.1.255")},
		{[]string{"127.0.0.1/8", "::1/128"}, addrs("127.255.255.255")},
		{[]string{"10.1.2.1/30", "10.1.2.4/31", "10.1.2.9/32", "fd00::2/64", "fe80::1/64"}, addrs("10.1.2.3")},
		{[]string{"172.16.5.1/12", "172.31.0.9/12", "192.0.2.2/24", "192.0.2.3/24"}, addrs("172.31.255.255", "192.0.2.255")},
		{[]string{"::ffff:198.51.100.7/120"}, addrs("198.51.100.255")}, // IPv4-mapped /24
		{[]string{"100.64.0.1/10", "0.0.0.0/0"}, addrs("100.127.255.255", "255.255.255.255")},
	} {
		got := DirectedBroadcasts(prefixes(t, c.in...))
		if !slices.Equal(got.Addrs(), c.want) || got.Len() != len(c.want) {
			t.Errorf("DirectedBroadcasts(%v) = %v, want %v", c.in, got.Addrs(), c.want)
		}
	}
	a, b := DirectedBroadcasts(prefixes(t, "192.0.2.2/24", "127.0.0.1/8")), DirectedBroadcasts(prefixes(t, "127.0.0.9/8", "192.0.2.1/24"))
	var none *Broadcasts
	if !a.Equal(b) || a.Equal(DirectedBroadcasts(prefixes(t, "127.0.0.1/8"))) || !none.Equal(DirectedBroadcasts(nil)) || none.Equal(a) {
		t.Error("Equal")
	}
}

// TestBroadcastsAnswerable: sources at a directed broadcast of the set are
// refused, IPv4-mapped too; every other address of those subnets, and the
// broadcasts of subnets not in the set, are answered; what Answerable
// refuses stays refused, with or without a set (nil is the empty set).
func TestBroadcastsAnswerable(t *testing.T) {
	bs := DirectedBroadcasts(prefixes(t, "192.168.1.10/24", "127.0.0.1/8", "10.1.2.1/30", "10.9.0.1/31", "fd00::2/64"))
	var none *Broadcasts
	for _, c := range []struct {
		src        string
		inSet, any bool // answerable with bs, and with none
	}{
		{"192.168.1.255:123", false, true},
		{"[::ffff:192.168.1.255]:40000", false, true},
		{"127.255.255.255:40000", false, true},
		{"10.1.2.3:123", false, true},
		{"192.168.1.254:123", true, true},
		{"192.168.1.0:123", true, true},
		{"192.168.2.255:123", true, true}, // not a subnet of this host
		{"127.0.0.1:123", true, true},
		{"127.0.0.255:123", true, true},
		{"10.1.2.2:123", true, true},
		{"10.9.0.1:123", true, true}, // a /31 has no broadcast
		{"[fd00::ffff:ffff:ffff:ffff]:123", true, true},
		{"[::1]:123", true, true},
		{"255.255.255.255:123", false, false},
		{"[::ffff:255.255.255.255]:123", false, false},
		{"0.0.0.0:123", false, false},
		{"224.0.1.1:123", false, false},
		{"192.168.1.7:0", false, false},
	} {
		src := netip.MustParseAddrPort(c.src)
		if got := bs.Answerable(src); got != c.inSet {
			t.Errorf("with the set, Answerable(%s) = %v", c.src, got)
		}
		if got := none.Answerable(src); got != c.any {
			t.Errorf("with no set, Answerable(%s) = %v", c.src, got)
		}
		if got := bs.Contains(src.Addr()); got != (c.any && !c.inSet) {
			t.Errorf("Contains(%s) = %v", src.Addr(), got)
		}
	}
}

// TestRespondDirectedBroadcast: a responder given the host's directed
// broadcasts drops requests from them as bad_source, from the next batch on
// (a batch begun before keeps the set it began with); without them, such a
// request is answered.
func TestRespondDirectedBroadcast(t *testing.T) {
	tbl := leap.Default()
	r := NewResponder(newFakeSource(tbl, mustTime(t, "2020-01-01T00:00:00Z"), 0), ntptest.Smear(t, tbl, "noon-to-noon"), testSettings, nil)
	req := request(t, 4, ntp.ModeClient, 6, 99, nil)
	from := func(b *Batch, src string) Verdict {
		t.Helper()
		resp := make([]byte, ntp.HeaderLen)
		n, v := r.Respond(b, Request{Data: req, Source: netip.MustParseAddrPort(src)}, resp)
		if (n == 0) != (v == DropSource) || v == DropSource && !slices.Equal(resp, make([]byte, ntp.HeaderLen)) {
			t.Fatalf("from %s: %d bytes, %v", src, n, v)
		}
		return v
	}
	before := r.Begin()
	r.SetBroadcasts(DirectedBroadcasts(prefixes(t, "192.0.2.2/24", "127.0.0.1/8")))
	if got := r.Broadcasts().Addrs(); !slices.Equal(got, addrs("127.255.255.255", "192.0.2.255")) {
		t.Fatalf("Broadcasts %v", got)
	}
	b := r.Begin()
	for src, want := range map[string]Verdict{
		"192.0.2.255:123": DropSource, "127.255.255.255:40000": DropSource, "[::ffff:192.0.2.255]:123": DropSource,
		"192.0.2.254:123": Answered, "127.0.0.3:40000": Answered, "198.51.100.255:123": Answered,
	} {
		if v := from(&b, src); v != want {
			t.Errorf("from %s: %v, want %v", src, v, want)
		}
	}
	if v := from(&before, "192.0.2.255:123"); v != Answered {
		t.Errorf("a batch begun before the set: %v", v)
	}
	r.SetBroadcasts(nil)
	b = r.Begin()
	if v := from(&b, "192.0.2.255:123"); v != Answered {
		t.Errorf("with the set removed: %v", v)
	}
}

// TestRespondDirectedBroadcastAllocs: the check allocates nothing, for a
// source it refuses and one it must search the set for.
func TestRespondDirectedBroadcastAllocs(t *testing.T) {
	r := benchResponder(t)
	req := clientRequest(42)
	var resp [ntp.HeaderLen]byte
	for src, want := range map[string]Verdict{"192.0.2.255:123": DropSource, "192.0.2.7:123": Answered} {
		ap := netip.MustParseAddrPort(src)
		if a := testing.AllocsPerRun(1000, func() {
			b := r.Begin()
			if _, v := r.Respond(&b, Request{Data: req[:], Source: ap}, resp[:]); v != want {
				t.Fatalf("from %s: %v, want %v", src, v, want)
			}
		}); a != 0 {
			t.Errorf("from %s: Respond allocates %v times", src, a)
		}
	}
}

// TestServerReadsHostBroadcasts: New gives its responders the host's
// directed broadcasts, lo's among them (where lo carries 127.0.0.1/8), and
// RefreshBroadcasts reads them again, reporting no change when there is
// none.
func TestServerReadsHostBroadcasts(t *testing.T) {
	srv := startServer(t, "127.0.0.1:0")
	host, err := HostBroadcasts()
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.Responder().Broadcasts(); !got.Equal(host) || !srv.Broadcasts().Equal(host) {
		t.Errorf("responder refuses %v, the host has %v", got.Addrs(), host.Addrs())
	}
	if hostHasPrefix(t, netip.MustParsePrefix("127.0.0.1/8")) && !host.Contains(netip.MustParseAddr("127.255.255.255")) {
		t.Errorf("host broadcasts %v: lo's 127.255.255.255 missing", host.Addrs())
	}
	if changed, err := srv.RefreshBroadcasts(); changed || err != nil {
		t.Errorf("RefreshBroadcasts: changed %v, %v", changed, err)
	}
}

// BenchmarkBroadcastsAnswerable is the whole source check with a set of
// four broadcasts: a source refused at once (its last two bits are not
// both set), one searched for and not found, and one found.
func BenchmarkBroadcastsAnswerable(b *testing.B) {
	bs := benchBroadcasts
	for _, src := range []string{"127.0.0.1:40000", "127.0.0.3:40000", "192.0.2.255:40000"} {
		ap := netip.MustParseAddrPort(src)
		b.Run(src, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = bs.Answerable(ap)
			}
		})
	}
}
