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
	// 65536 entries in 3 MiB, fixed
	// rate limit: burst 0: must be >= 1
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
	client := ratelimit.AddrKey(netip.MustParseAddr("192.0.2.7"))
	start := int64(0) // the caller's monotonic clock, in nanoseconds

	// Five requests at once: the burst is answered, then one KoD, then silence.
	for range 5 {
		fmt.Print(l.Allow(client, start), ";")
	}
	fmt.Println()
	// 8 s later one request's credit has come back.
	later := start + int64(8*time.Second)
	fmt.Println(l.Allow(client, later), l.Allow(client, later))
	s := l.Stats()
	fmt.Println(s.Answered, "answered,", s.Kissed, "kissed,", s.Dropped, "dropped")
	// Output:
	// answer;answer;answer;kiss;drop;
	// answer kiss
	// 4 answered, 2 kissed, 1 dropped
}
