package ratelimit_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/leapsmear/leapsmear/ratelimit"
)

func ExampleNew() {
	l, err := ratelimit.New(ratelimit.DefaultConfig())
	if err != nil {
		panic(err)
	}
	fmt.Println(l.Config().Entries, "entries in", l.MemoryBytes()>>20, "MiB, fixed")

	_, err = ratelimit.New(ratelimit.Config{Rate: 1.0 / 8, Burst: 0, KissInterval: time.Second})
	fmt.Println(err)
	// Output:
	// 65536 entries in 4 MiB, fixed
	// rate-burst 0: want 1 or more
}

func ExampleLimiter_Allow() {
	l, err := ratelimit.New(ratelimit.Config{
		Rate:         1.0 / 8, // one request per 8 s
		Burst:        3,
		KissInterval: 8 * time.Second,
		Entries:      1024,
	})
	if err != nil {
		panic(err)
	}
	client := netip.MustParseAddr("192.0.2.7")
	var start ratelimit.Instant // the caller's clock, in nanoseconds: any that never jumps

	// Five requests at once: the burst is answered, then one KoD, then silence.
	for range 5 {
		fmt.Print(l.Allow(client, start), ";")
	}
	fmt.Println()
	// 8 s later one request's credit has come back.
	later := start + ratelimit.Instant(8*time.Second)
	fmt.Println(l.Allow(client, later), l.Allow(client, later))
	s := l.Stats()
	fmt.Println(s.Answered, "answered,", s.Kissed, "kissed,", s.Dropped, "dropped")
	// Output:
	// answer;answer;answer;kiss;drop;
	// answer kiss
	// 4 answered, 2 kissed, 1 dropped
}

func ExampleLimiter_Prefix() {
	l, err := ratelimit.New(ratelimit.DefaultConfig())
	if err != nil {
		panic(err)
	}
	// IPv4 addresses are limited one by one; IPv6 addresses one by one and
	// per /64 as well.
	for _, a := range []string{"192.0.2.7", "::ffff:192.0.2.7", "2001:db8:1:2::7", "2001:db8:1:2:abcd::1"} {
		fmt.Println(a, "counts against", l.Prefix(netip.MustParseAddr(a)))
	}
	// Output:
	// 192.0.2.7 counts against 192.0.2.7/32
	// ::ffff:192.0.2.7 counts against 192.0.2.7/32
	// 2001:db8:1:2::7 counts against 2001:db8:1:2::/64
	// 2001:db8:1:2:abcd::1 counts against 2001:db8:1:2::/64
}

func ExampleConfig_iPv6PrefixShare() {
	l, err := ratelimit.New(ratelimit.Config{
		Rate:            1.0 / 8,
		Burst:           2,
		KissInterval:    8 * time.Second,
		IPv6Prefix:      64,
		IPv6PrefixShare: 3, // a /64 may send as much as three addresses
	})
	if err != nil {
		panic(err)
	}
	var now ratelimit.Instant
	// One address floods: it gets its own burst, a KoD, then silence, and
	// its refused requests spend none of its /64's allowance.
	for range 5 {
		fmt.Print(l.Allow(netip.MustParseAddr("2001:db8::bad"), now), ";")
	}
	fmt.Println()
	// Its neighbours get theirs, up to three bursts for the /64 in all.
	for _, a := range []string{"2001:db8::1", "2001:db8::2", "2001:db8::3"} {
		fmt.Print(l.Allow(netip.MustParseAddr(a), now), ";", l.Allow(netip.MustParseAddr(a), now), ";")
	}
	fmt.Println()
	// Output:
	// answer;answer;kiss;drop;drop;
	// answer;answer;answer;answer;drop;drop;
}
