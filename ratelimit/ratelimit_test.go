package ratelimit

import (
	"cmp"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/leapsmear/leapsmear/internal/option"
)

const sec = int64(time.Second)

func mustNew(t testing.TB, cfg Config) *Limiter {
	t.Helper()
	l, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return l
}

// src returns the address of test source k: an IPv6 address whose first 64
// bits are k, so that each k is its own /64 (and its own source).
func src(k uint64) netip.Addr {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], k)
	b[15] = 1
	return netip.AddrFrom16(b)
}

// run sends n requests from source k at now and returns the decisions in order.
func run(l *Limiter, k uint64, now int64, n int) []Decision {
	out := make([]Decision, n)
	for i := range out {
		out[i] = l.Allow(src(k), Instant(now))
	}
	return out
}

func count(ds []Decision) (answered, kissed, dropped int) {
	for _, d := range ds {
		switch d {
		case Answer:
			answered++
		case Kiss:
			kissed++
		case Drop:
			dropped++
		}
	}
	return
}

func TestNewValidation(t *testing.T) {
	bad := []struct {
		cfg  Config
		want string
	}{
		{Config{Rate: -1, Burst: 8, KissInterval: time.Second}, "rate-limit -1: want a finite number"},
		{Config{Rate: math.NaN(), Burst: 8, KissInterval: time.Second}, "rate-limit NaN: want a finite number"},
		{Config{Rate: math.Inf(1), Burst: 8, KissInterval: time.Second}, "rate-limit +Inf: want a finite number"},
		{Config{Rate: 2e9, Burst: 8, KissInterval: time.Second}, "at most 1e9"},
		{Config{Rate: 1e-12, Burst: 8, KissInterval: time.Second}, "burst/rate"},
		{Config{Rate: 1.0 / 8, Burst: 1 << 40, KissInterval: time.Second}, "burst/rate"},
		{Config{Rate: 1.0 / 8, Burst: 0, KissInterval: time.Second}, "rate-burst 0: want 1 or more"},
		{Config{Rate: 1.0 / 8, Burst: -3, KissInterval: time.Second}, "rate-burst -3: want 1 or more"},
		{Config{Rate: 0, Burst: -3}, "rate-burst -3: want 1 or more"},
		{Config{Rate: 1.0 / 8, Burst: 8, KissInterval: 0}, "kiss-interval 0s: want more than 0"},
		{Config{Rate: 1.0 / 8, Burst: 8, KissInterval: time.Second, Entries: -1}, "rate-entries -1: want 0"},
		{Config{Rate: 1.0 / 8, Burst: 8, KissInterval: time.Second, Entries: MaxEntries + 1}, "rate-entries 67108865: want 0"},
		{Config{Rate: 0, Entries: -5}, "rate-entries -5: want 0"},
		{Config{Rate: 1.0 / 8, Burst: 8, KissInterval: time.Second, IPv6Prefix: 31}, "rate-ipv6-prefix 31: want a prefix length from 32 to 128"},
		{Config{Rate: 1.0 / 8, Burst: 8, KissInterval: time.Second, IPv6Prefix: 129}, "rate-ipv6-prefix 129: want"},
		{Config{Rate: 0, IPv6Prefix: -1}, "rate-ipv6-prefix -1: want"},
		{Config{Rate: 1.0 / 8, Burst: 8, KissInterval: time.Second, IPv6PrefixShare: 1}, "rate-ipv6-prefix-share 1: want 2 to 65536"},
		{Config{Rate: 1.0 / 8, Burst: 8, KissInterval: time.Second, IPv6PrefixShare: -8}, "rate-ipv6-prefix-share -8: want 2 to 65536"},
		{Config{Rate: 1.0 / 8, Burst: 8, KissInterval: time.Second, IPv6PrefixShare: MaxPrefixShare + 1}, "rate-ipv6-prefix-share 65537: want"},
		{Config{Rate: 0, IPv6PrefixShare: 1}, "rate-ipv6-prefix-share 1: want"},
		{Config{Rate: 1.0 / 8, Burst: 8, KissInterval: time.Second, IPv6Prefix: 128, IPv6PrefixShare: -1}, "rate-ipv6-prefix-share -1: want"},
		{Config{Rate: 1e9, Burst: 1 << 50, KissInterval: time.Second, IPv6PrefixShare: MaxPrefixShare}, "rate-ipv6-prefix-share 65536: with rate-limit 1e+09 and rate-burst 1125899906842624"},
	}
	for _, c := range bad {
		l, err := New(c.cfg)
		if err == nil {
			t.Errorf("New(%+v) = %v, want an error", c.cfg, l)
			continue
		}
		// Each error names the option (flag and config key) it is about.
		if _, ok := option.As(err); !ok || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) error %q, want an option error containing %q", c.cfg, err, c.want)
		}
	}

	sizes := []struct{ in, want int }{{0, DefaultEntries}, {1, Ways}, {4, 4}, {5, 8}, {1000, 1024}, {1 << 20, 1 << 20}}
	for _, s := range sizes {
		l := mustNew(t, Config{Rate: 1, Burst: 1, KissInterval: time.Second, Entries: s.in})
		if got := l.Config().Entries; got != s.want || l.Stats().Entries != s.want {
			t.Errorf("Entries %d: got %d (stats %d), want %d", s.in, got, l.Stats().Entries, s.want)
		}
		if got, want := l.MemoryBytes(), s.want*64; got != want {
			t.Errorf("Entries %d: MemoryBytes %d, want %d", s.in, got, want)
		}
	}

	d := mustNew(t, DefaultConfig())
	if got := d.Config(); got != DefaultConfig() {
		t.Errorf("default config in force %+v, want %+v", got, DefaultConfig())
	}
	if d.interval != 8*sec || d.credit != 64*sec {
		t.Errorf("default T %d credit %d, want 8 s and 64 s", d.interval, d.credit)
	}
	// A /64 may send 8 times as much: one request a second, 64 at once.
	if d.pInterval != sec || d.pCredit != 64*sec {
		t.Errorf("default prefix T %d credit %d, want 1 s and 64 s", d.pInterval, d.pCredit)
	}
	if got := mustNew(t, Config{Rate: 1, Burst: 1, KissInterval: time.Second}).Config().IPv6PrefixShare; got != DefaultPrefixShare {
		t.Errorf("IPv6PrefixShare 0 became %d, want %d", got, DefaultPrefixShare)
	}
}

func TestLayout(t *testing.T) {
	if s := unsafe.Sizeof(entry{}); s != 48 {
		t.Errorf("entry is %d bytes, want 48", s)
	}
	if s := unsafe.Sizeof(set{}); s != 256 {
		t.Errorf("set is %d bytes, want 256", s)
	}
	if s := unsafe.Offsetof(set{}.entries); s != 64 {
		t.Errorf("set entries at offset %d, want 64", s)
	}
	if s := unsafe.Sizeof(counter{}); s != 128 {
		t.Errorf("counter is %d bytes, want 128", s)
	}
}

func TestExactRateAlwaysAnswered(t *testing.T) {
	for _, rate := range []float64{1.0 / 8, 1, 3, 1000, 1.0 / 1024} {
		for _, burst := range []int{1, 8} {
			l := mustNew(t, Config{Rate: rate, Burst: burst, KissInterval: time.Second})
			step := int64(math.Ceil(1e9 / rate))
			now := int64(12345)
			for i := range 5000 {
				if d := l.Allow(src(42), Instant(now)); d != Answer {
					t.Fatalf("rate %v burst %d: request %d at exactly the rate: %v", rate, burst, i, d)
				}
				now += step
			}
			// One nanosecond early is too early once the burst is gone.
			if burst == 1 {
				if d := l.Allow(src(42), Instant(now-1)); d == Answer {
					t.Errorf("rate %v burst 1: a request 1 ns early was answered", rate)
				}
			}
		}
	}
}

func TestFasterThanRate(t *testing.T) {
	// At twice the rate, a source that starts with burst B gets exactly
	// 2B-1 answers in a row: after k answers it is k*T/2 ahead, and the
	// next is allowed while k*T/2 + T <= B*T.
	for _, burst := range []int{1, 2, 8, 30} {
		l := mustNew(t, Config{Rate: 1.0 / 8, Burst: burst, KissInterval: time.Hour})
		now := int64(0)
		n := 0
		for l.Allow(src(7), Instant(now)) == Answer {
			n++
			now += 4 * sec
			if n > 1000 {
				t.Fatal("never limited")
			}
		}
		if n != 2*burst-1 {
			t.Errorf("burst %d at twice the rate: %d answers in a row, want %d", burst, n, 2*burst-1)
		}
		// From then on it is answered every other request: the rate.
		got := 0
		for range 100 {
			now += 4 * sec
			if l.Allow(src(7), Instant(now)) == Answer {
				got++
			}
		}
		if got != 50 {
			t.Errorf("burst %d: %d of the next 100 answered, want 50", burst, got)
		}
	}
}

func TestBurstKissDrop(t *testing.T) {
	const burst = 8
	kiss := 2 * time.Second
	l := mustNew(t, Config{Rate: 1.0 / 8, Burst: burst, KissInterval: kiss, Entries: 64})
	k := uint64(0xfeed)
	t0 := 1000 * sec

	got := run(l, k, t0, burst+1)
	for i := range burst {
		if got[i] != Answer {
			t.Fatalf("request %d of the burst: %v", i, got[i])
		}
	}
	if got[burst] != Kiss {
		t.Fatalf("request %d (first over the burst): %v, want kiss", burst, got[burst])
	}
	for i, d := range run(l, k, t0, 50) {
		if d != Drop {
			t.Fatalf("excess request %d at the same instant: %v, want drop", i, d)
		}
	}
	// Drops until KissInterval has passed since the Kiss ...
	if d := l.Allow(src(k), Instant(t0+int64(kiss)-1)); d != Drop {
		t.Fatalf("1 ns before the kiss interval: %v, want drop", d)
	}
	// ... then one more Kiss, and drops again.
	if d := l.Allow(src(k), Instant(t0+int64(kiss))); d != Kiss {
		t.Fatalf("at the kiss interval: %v, want kiss", d)
	}
	if d := l.Allow(src(k), Instant(t0+int64(kiss))); d != Drop {
		t.Fatalf("after the second kiss: %v, want drop", d)
	}
	// After one emission interval (8 s) one request's credit is back.
	t1 := t0 + 8*sec
	if d := l.Allow(src(k), Instant(t1-1)); d != Kiss { // still over; last kiss 6 s ago
		t.Fatalf("1 ns before the credit returns: %v, want kiss", d)
	}
	if d := l.Allow(src(k), Instant(t1)); d != Answer {
		t.Fatalf("after 8 s: %v, want answer", d)
	}
	if d := l.Allow(src(k), Instant(t1)); d != Drop { // over again, kissed 1 ns ago
		t.Fatalf("second request after 8 s: %v, want drop", d)
	}

	s := l.Stats()
	// Two entries: the address's and its /64's.
	if s.Answered != burst+1 || s.Kissed != 3 || s.Dropped != 53 || s.InUse != 2 || s.Evictions != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestCreditReturns(t *testing.T) {
	const burst = 8
	for wait := range int64(12) {
		l := mustNew(t, Config{Rate: 1.0 / 8, Burst: burst, KissInterval: time.Second})
		run(l, 1, 0, 20) // exhaust
		a, _, _ := count(run(l, 1, wait*8*sec, 20))
		if want := int(min(wait, burst)); a != want {
			t.Errorf("after waiting %d intervals: %d answers, want %d", wait, a, want)
		}
	}
}

func TestNeverKiss(t *testing.T) {
	l := mustNew(t, Config{Rate: 1, Burst: 2, KissInterval: -1})
	a, k, d := count(run(l, 9, 0, 100))
	if a != 2 || k != 0 || d != 98 {
		t.Errorf("negative kiss interval: %d answered, %d kissed, %d dropped", a, k, d)
	}
	a, k, _ = count(run(l, 9, 1000*sec, 100))
	if a != 2 || k != 0 {
		t.Errorf("later: %d answered, %d kissed", a, k)
	}
}

func TestDisabled(t *testing.T) {
	l := mustNew(t, Config{Rate: 0, Entries: 1 << 20})
	for i := range 10000 {
		if d := l.Allow(src(uint64(i%3)), 0); d != Answer {
			t.Fatalf("disabled limiter: %v", d)
		}
	}
	s := l.Stats()
	if s.Answered != 10000 || s.Kissed != 0 || s.Dropped != 0 || s.Entries != 0 || s.InUse != 0 {
		t.Errorf("disabled stats %+v", s)
	}
	if l.sets != nil || l.MemoryBytes() > 1024*128 {
		t.Errorf("disabled limiter holds %d bytes", l.MemoryBytes())
	}
	if l.Config().Entries != 0 {
		t.Errorf("disabled limiter reports %d entries", l.Config().Entries)
	}
}

func TestClockBackwards(t *testing.T) {
	l := mustNew(t, Config{Rate: 1.0 / 8, Burst: 2, KissInterval: 4 * time.Second})
	t0 := 100 * sec
	if a, k, _ := count(run(l, 5, t0, 3)); a != 2 || k != 1 {
		t.Fatalf("burst: %d answered %d kissed", a, k)
	}
	// The clock steps back 50 s: no time has passed for this source, so
	// it has no credit and was kissed "just now".
	t1 := t0 - 50*sec
	if d := l.Allow(src(5), Instant(t1)); d != Drop {
		t.Fatalf("after stepping back: %v, want drop", d)
	}
	// Repeated steps back give no credit either.
	for i := range 20 {
		if d := l.Allow(src(5), Instant(t1-int64(i)*sec)); d == Answer {
			t.Fatalf("step back %d: answered", i)
		}
	}
	t2 := t1 - 19*sec // where the source's clock now stands
	if d := l.Allow(src(5), Instant(t2+4*sec)); d != Kiss {
		t.Fatalf("kiss interval after the steps: %v, want kiss", d)
	}
	if d := l.Allow(src(5), Instant(t2+8*sec-1)); d == Answer {
		t.Fatalf("credit 1 ns early after the steps")
	}
	if d := l.Allow(src(5), Instant(t2+8*sec)); d != Answer {
		t.Fatalf("credit after one interval past the steps: %v", d)
	}
}

func TestExtremeTimes(t *testing.T) {
	l := mustNew(t, Config{Rate: 1.0 / 8, Burst: 3, KissInterval: time.Second, Entries: 16})
	times := []int64{math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, 0, math.MinInt64 + 1, -1, math.MaxInt64, math.MinInt64}
	for i, now := range times {
		if d := l.Allow(src(uint64(100+i)), Instant(now)); d != Answer {
			t.Errorf("first request of a source at %d: %v", now, d)
		}
	}
	for _, now := range times {
		for k := range uint64(4) {
			if d := l.Allow(src(k), Instant(now)); d > Drop {
				t.Fatalf("decision %d", d)
			}
		}
	}
	// Requests near the end of time still follow the burst.
	a, k, _ := count(run(l, 999, math.MaxInt64, 10))
	if a != 3 || k != 1 {
		t.Errorf("at MaxInt64: %d answered %d kissed, want 3 and 1", a, k)
	}
	a, k, _ = count(run(l, 998, math.MinInt64, 10))
	if a != 3 || k != 1 {
		t.Errorf("at MinInt64: %d answered %d kissed, want 3 and 1", a, k)
	}
}

func TestSaturating(t *testing.T) {
	cases := []struct{ a, b, sum, diff int64 }{
		{1, 2, 3, -1},
		{math.MaxInt64, 1, math.MaxInt64, math.MaxInt64 - 1},
		{math.MaxInt64 - 1, 5, math.MaxInt64, math.MaxInt64 - 6},
		{math.MinInt64, 1, math.MinInt64 + 1, math.MinInt64},
		{-5, 0, -5, -5},
	}
	for _, c := range cases {
		if got := satAdd(c.a, c.b); got != c.sum {
			t.Errorf("satAdd(%d, %d) = %d, want %d", c.a, c.b, got, c.sum)
		}
		if got := satSub(c.a, c.b); got != c.diff {
			t.Errorf("satSub(%d, %d) = %d, want %d", c.a, c.b, got, c.diff)
		}
	}
	if got := satSub(math.MaxInt64, -1); got != math.MaxInt64 {
		t.Errorf("satSub(max, -1) = %d", got)
	}
	if got := satSub(0, math.MinInt64); got != math.MaxInt64 {
		t.Errorf("satSub(0, min) = %d", got)
	}
	if got := satSub(-2, math.MaxInt64); got != math.MinInt64 {
		t.Errorf("satSub(-2, max) = %d", got)
	}
}

// keysIn returns the test sources (see src) whose addresses have an entry in
// the table, in slot order.
func keysIn(l *Limiter) []uint64 {
	var ks []uint64
	for i := range l.sets {
		for _, e := range l.sets[i].entries {
			if e.bits == 128 {
				ks = append(ks, e.src.hi)
			}
		}
	}
	return ks
}

func has(ks []uint64, k uint64) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// The eviction tests limit IPv6 addresses one by one (IPv6Prefix 128), so
// that each test source takes one entry.

func TestEvictsLeastRestricted(t *testing.T) {
	// One set of four slots.
	l := mustNew(t, Config{Rate: 1.0 / 8, Burst: 8, KissInterval: time.Second, Entries: Ways, IPv6Prefix: 128})
	now := 50 * sec
	run(l, 1, now, 20) // limited: all credit spent
	run(l, 2, now, 3)
	run(l, 3, now, 1) // least credit spent
	run(l, 4, now, 5)
	if s := l.Stats(); s.InUse != 4 || s.Evictions != 0 {
		t.Fatalf("filled: %+v", s)
	}
	if d := l.Allow(src(5), Instant(now)); d != Answer {
		t.Fatalf("new source: %v", d)
	}
	ks := keysIn(l)
	if has(ks, 3) || !has(ks, 1) || !has(ks, 2) || !has(ks, 4) || !has(ks, 5) {
		t.Fatalf("after a new source the table holds %v, want 3 evicted", ks)
	}
	if s := l.Stats(); s.Evictions != 1 || s.InUse != 4 {
		t.Errorf("stats %+v, want 1 eviction", s)
	}
	// The limited source is still limited.
	if d := l.Allow(src(1), Instant(now)); d == Answer {
		t.Errorf("limited source answered after another was evicted")
	}
}

func TestIdleEntriesReusedWithoutEviction(t *testing.T) {
	l := mustNew(t, Config{Rate: 1.0 / 8, Burst: 8, KissInterval: time.Second, Entries: Ways, IPv6Prefix: 128})
	for k := range uint64(4) {
		run(l, k+1, 0, 8)
	}
	// 64 s later everyone has their burst back: forgetting them loses nothing.
	now := 64 * sec
	for k := range uint64(100) {
		if d := l.Allow(src(1000+k), Instant(now+int64(k)*8*sec)); d != Answer {
			t.Fatalf("new source %d: %v", k, d)
		}
	}
	if s := l.Stats(); s.Evictions != 0 || s.InUse != 4 {
		t.Errorf("stats %+v, want no evictions", s)
	}
}

// TestFailOpen documents the weakness: once the table is churned by enough
// other sources that spent more credit, a limited source is forgotten and
// starts again with a full burst.
func TestFailOpen(t *testing.T) {
	l := mustNew(t, Config{Rate: 1.0 / 8, Burst: 4, KissInterval: time.Second, Entries: Ways, IPv6Prefix: 128})
	now := sec
	run(l, 1, now, 4) // the victim has spent its burst
	if d := l.Allow(src(1), Instant(now)); d == Answer {
		t.Fatal("victim not limited")
	}
	// An attacker uses three more addresses to the same degree, a moment
	// later, so that their entries are further ahead, then a fourth.
	for k := uint64(2); k <= 4; k++ {
		run(l, k, now+1, 4)
	}
	l.Allow(src(5), Instant(now+1))
	if has(keysIn(l), 1) {
		t.Fatalf("victim still in table %v", keysIn(l))
	}
	if a, _, _ := count(run(l, 1, now+2, 10)); a != 4 {
		t.Errorf("evicted source got %d answers, want a full burst of 4", a)
	}
	if s := l.Stats(); s.Evictions < 1 {
		t.Errorf("stats %+v, want evictions counted", s)
	}
}

func TestManyKeysFixedMemory(t *testing.T) {
	l := mustNew(t, DefaultConfig())
	mem := l.MemoryBytes()
	rng := rand.New(rand.NewPCG(1, 2))
	now := int64(0)
	// Warm up: fill the table once.
	for range 1 << 17 {
		l.Allow(src(rng.Uint64()), Instant(now))
		now += int64(time.Microsecond)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const n = 400_000
	for i := range n {
		// Mostly fresh addresses, some repeat heavily.
		k := rng.Uint64()
		if i%4 == 0 {
			k = uint64(i % 5000)
		}
		l.Allow(src(k), Instant(now))
		now += int64(time.Microsecond)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if got := l.MemoryBytes(); got != mem {
		t.Errorf("MemoryBytes changed from %d to %d", mem, got)
	}
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if grew > 256<<10 {
		t.Errorf("heap grew by %d bytes over %d sources (table is %d bytes)", grew, n, mem)
	}
	s := l.Stats()
	if s.InUse != DefaultEntries || s.Entries != DefaultEntries {
		t.Errorf("stats %+v, want a full table", s)
	}
	if s.Evictions == 0 {
		t.Errorf("stats %+v: 400 000 sources in a 65536-entry table evicted nothing", s)
	}
	if total := s.Answered + s.Kissed + s.Dropped; total != n+1<<17 {
		t.Errorf("decisions counted %d, want %d", total, n+1<<17)
	}
	t.Logf("heap grew %d bytes; %+v", grew, s)
}

func TestAllowDoesNotAllocate(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	l := mustNew(t, Config{Rate: 1, Burst: 2, KissInterval: time.Second, Entries: 64})
	var i uint64
	fresh := testing.AllocsPerRun(10000, func() { // new sources, evictions
		i++
		l.Allow(src(i), Instant(int64(i)))
	})
	same := testing.AllocsPerRun(10000, func() { // answer, kiss, drop
		i++
		l.Allow(src(7), Instant(int64(i)*1000))
	})
	off := mustNew(t, Config{})
	disabled := testing.AllocsPerRun(1000, func() { off.Allow(src(1), 0) })
	v4 := netip.MustParseAddr("192.0.2.1")
	zoned := netip.MustParseAddr("fe80::1%eth0")
	addrs := testing.AllocsPerRun(1000, func() { l.Allow(v4, 1); l.Allow(zoned, 1) })
	shared := testing.AllocsPerRun(10000, func() { // many addresses of one /64: its limit
		i++
		l.Allow(inPrefix(0x2001_0db8_0000_0007, int(i%100)), Instant(int64(i)*1000))
	})
	if fresh != 0 || same != 0 || disabled != 0 || addrs != 0 || shared != 0 {
		t.Errorf("allocations per call: new sources %v, one source %v, disabled %v, IPv4 and zoned %v, one /64 %v",
			fresh, same, disabled, addrs, shared)
	}
	if s := l.Stats(); s.Evictions == 0 || s.Kissed == 0 || s.Dropped == 0 {
		t.Errorf("the allocation runs did not exercise every path: %+v", s)
	}
}

func TestConcurrentHotKey(t *testing.T) {
	const (
		workers = 8
		each    = 2000
		burst   = 10
	)
	l := mustNew(t, Config{Rate: 1.0 / 8, Burst: burst, KissInterval: time.Hour, Entries: 1024})
	var answered, kissed, dropped atomic.Int64
	var clock atomic.Int64
	var wg sync.WaitGroup
	done := make(chan struct{})
	var scrapes sync.WaitGroup
	scrapes.Go(func() { // metrics scrapes while the workers run
		var last uint64
		for {
			s := l.Stats()
			total := s.Answered + s.Kissed + s.Dropped
			if total < last {
				t.Errorf("stats went back from %d to %d decisions", last, total)
			}
			last = total
			select {
			case <-done:
				return
			default:
			}
		}
	})
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				// The hot key, at a frozen instant.
				switch l.Allow(src(0xabc), 0) {
				case Answer:
					answered.Add(1)
				case Kiss:
					kissed.Add(1)
				case Drop:
					dropped.Add(1)
				}
				// Own and shared keys on a moving clock.
				now := clock.Add(int64(time.Millisecond))
				l.Allow(src(uint64(w)<<32|uint64(i%300)), Instant(now))
				l.Allow(src(uint64(i%50)), Instant(now))
			}
		})
	}
	wg.Wait()
	close(done)
	scrapes.Wait()
	if answered.Load() != burst || kissed.Load() != 1 || dropped.Load() != workers*each-burst-1 {
		t.Errorf("hot key from %d goroutines: %d answered, %d kissed, %d dropped; want %d, 1, rest",
			workers, answered.Load(), kissed.Load(), dropped.Load(), burst)
	}
	s := l.Stats()
	if total := s.Answered + s.Kissed + s.Dropped; total != 3*workers*each {
		t.Errorf("stats count %d decisions, want %d", total, 3*workers*each)
	}
	if s.InUse > s.Entries {
		t.Errorf("stats %+v", s)
	}
}

// TestConcurrentPrefix: goroutines sending from distinct addresses of one
// /64 at a frozen instant get exactly the prefix's share of bursts between
// them, and goroutines whose addresses and prefixes fall in the same few
// sets (locked two at a time) neither deadlock nor miscount.
func TestConcurrentPrefix(t *testing.T) {
	const (
		workers = 8
		each    = 2000
		burst   = 3
		share   = 5
	)
	l := mustNew(t, Config{Rate: 1.0 / 8, Burst: burst, KissInterval: time.Hour, Entries: 1024, IPv6PrefixShare: share})
	small := mustNew(t, Config{Rate: 1, Burst: 2, KissInterval: time.Millisecond, Entries: 16, IPv6PrefixShare: 2})
	var answered, kissed atomic.Int64
	var clock atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				switch l.Allow(inPrefix(0xabc, w*each+i), 0) {
				case Answer:
					answered.Add(1)
				case Kiss:
					kissed.Add(1)
				}
				now := clock.Add(int64(time.Millisecond))
				small.Allow(inPrefix(uint64(i%3), i%7), Instant(now))
				small.Allow(inPrefix(uint64(w%3), i%5), Instant(now))
			}
		})
	}
	wg.Wait()
	if answered.Load() != share*burst || kissed.Load() != 1 {
		t.Errorf("one /64 from %d goroutines: %d answered, %d kissed; want %d and 1", workers, answered.Load(), kissed.Load(), share*burst)
	}
	s := small.Stats()
	if total := s.Answered + s.Kissed + s.Dropped; total != 2*workers*each || s.InUse > s.Entries {
		t.Errorf("small table: stats %+v, want %d decisions", s, 2*workers*each)
	}
}

// step is one request of a property sequence.
type step struct {
	addr int   // index in propAddrs
	dt   int64 // added to the clock before the request; may be negative
}

// propAddrs are the sources of the property sequences: three addresses of
// one /64 (one of them in another /96, /112 and /127 than the others), two
// of another /64 (one of them its network address, whose entry must not be
// taken for the prefix's), and IPv4 addresses, one IPv4-mapped.
var propAddrs = []netip.Addr{
	netip.MustParseAddr("2001:db8:0:1::1"),
	netip.MustParseAddr("2001:db8:0:1::2"),
	netip.MustParseAddr("2001:db8:0:1:ffff::3"),
	netip.MustParseAddr("2001:db8:0:2::1"),
	netip.MustParseAddr("2001:db8:0:2::"),
	netip.MustParseAddr("192.0.2.1"),
	netip.MustParseAddr("::ffff:192.0.2.2"),
}

// placeable says whether the entries that addrs need in l (their own, and
// their prefixes') fit in their sets without replacing one another.
func placeable(l *Limiter, addrs []netip.Addr) bool {
	inSet := map[uint64]int{}
	prefixes := map[source]bool{}
	for _, a := range addrs {
		s := sourceOf(a)
		inSet[s.hash(l.seed)&l.setMask]++
		if p := s.masked(l.hiMask, l.loMask); l.bits < 128 && !s.isIPv4() && !prefixes[p] {
			prefixes[p] = true
			inSet[p.hash(l.prefixSeed)&l.setMask]++
		}
	}
	for _, n := range inSet {
		if n > Ways {
			return false
		}
	}
	return true
}

// refEntry and refLimiter are a reference model of the limiter: the rules
// of Allow on a map of unbounded size, with nothing shared, locked or
// evicted. Where no entry of the table is ever replaced, Allow must decide
// exactly as it does.
type refEntry struct{ tat, kissAt, seen int64 }

type refKey struct {
	src  source
	bits int
}

type refLimiter struct {
	T, C, PT, PC, K int64 // emission intervals and credits, ns; K < 0: never kiss
	bits            int
	hi, lo          uint64
	m               map[refKey]*refEntry
}

func newRef(l *Limiter) *refLimiter {
	c := l.Config()
	t := int64(math.Ceil(1e9 / c.Rate))
	pt := int64(math.Ceil(1e9 / (c.Rate * float64(c.IPv6PrefixShare))))
	r := &refLimiter{T: t, C: t * int64(c.Burst), PT: pt, PC: pt * int64(c.Burst) * int64(c.IPv6PrefixShare),
		K: int64(c.KissInterval), bits: c.IPv6Prefix, m: map[refKey]*refEntry{}}
	r.hi, r.lo = prefixMasks(c.IPv6Prefix)
	return r
}

// get returns k's entry brought to now (nil if none and not create).
func (r *refLimiter) get(k refKey, now int64, create bool) *refEntry {
	e := r.m[k]
	if e == nil {
		if !create {
			return nil
		}
		e = &refEntry{tat: now, kissAt: never, seen: now}
		r.m[k] = e
	}
	if now < e.seen {
		back := satSub(e.seen, now)
		e.tat = satSub(e.tat, back)
		if e.kissAt != never {
			e.kissAt = satSub(e.kissAt, back)
		}
	}
	e.seen = now
	return e
}

func (r *refLimiter) allow(a netip.Addr, now int64) Decision {
	now = min(max(now, -timeLimit), timeLimit)
	src := sourceOf(a)
	kissable := func(e *refEntry) bool {
		return e == nil || e.kissAt == never || satSub(now, e.kissAt) >= r.K
	}
	if src.isIPv4() || r.bits == 128 {
		e := r.get(refKey{src, 128}, now, true)
		if next := satAdd(max(e.tat, now), r.T); satSub(next, now) <= r.C {
			e.tat = next
			return Answer
		}
		if r.K >= 0 && kissable(e) {
			e.kissAt = now
			return Kiss
		}
		return Drop
	}
	p := r.get(refKey{src.masked(r.hi, r.lo), r.bits}, now, true)
	e := r.get(refKey{src, 128}, now, false)
	pNext := satAdd(max(p.tat, now), r.PT)
	aNext := satAdd(now, r.T)
	if e != nil {
		aNext = satAdd(max(e.tat, now), r.T)
	}
	if satSub(pNext, now) <= r.PC && satSub(aNext, now) <= r.C {
		e = r.get(refKey{src, 128}, now, true)
		p.tat, e.tat = pNext, aNext
		return Answer
	}
	if r.K >= 0 && kissable(p) && kissable(e) {
		e = r.get(refKey{src, 128}, now, true)
		p.kissAt, e.kissAt = now, now
		return Kiss
	}
	return Drop
}

// checkSteps runs steps through a Limiter made from cfg, and checks that it
// decides as the reference model does, and that for each address and each
// IPv6 prefix the answers never exceed Burst + Rate*elapsed + 1 (for a
// prefix IPv6PrefixShare times that) and the KoDs 1 + elapsed/KissInterval,
// where elapsed is the time the address or prefix has seen pass (the sum of
// the forward steps between its requests; backward steps count as none). It
// also checks that an address quiet for Burst/Rate, in a prefix quiet as
// long, is answered. The limiter is made again (with new seeds) until the
// entries of propAddrs fit in their sets, so that no entry is replaced.
func checkSteps(t testing.TB, cfg Config, steps []step) {
	t.Helper()
	var l *Limiter
	for range 1000 {
		var err error
		if l, err = New(cfg); err != nil {
			t.Fatalf("config %+v: %v", cfg, err)
		}
		if placeable(l, propAddrs) {
			break
		}
	}
	if !placeable(l, propAddrs) {
		t.Fatalf("config %+v: no placement of the test addresses without replacement in 1000 seeds", cfg)
	}
	cfg = l.Config()
	ref := newRef(l)
	type model struct {
		last            int64
		seen            bool
		elapsed         float64 // ns
		answers, kisses int
	}
	m := map[string]*model{}
	touch := func(name string, now int64) (k *model, quiet bool) {
		k = m[name]
		if k == nil {
			k = &model{}
			m[name] = k
		}
		quiet = !k.seen || float64(now-k.last) >= float64(ref.C)
		if k.seen && now > k.last {
			k.elapsed += float64(now - k.last)
		}
		k.last, k.seen = now, true
		return k, quiet
	}
	now := int64(0)
	var total [3]uint64
	for i, s := range steps {
		now += s.dt
		a := propAddrs[s.addr]
		ka, quiet := touch(a.String(), now)
		share := 1.0
		kp := ka // an IPv4 address, or an IPv6 address limited on its own, is its own "prefix"
		if p := l.Prefix(a); p.Bits() < 128 && p.Addr().Is6() {
			var pQuiet bool
			kp, pQuiet = touch(p.String(), now)
			quiet = quiet && pQuiet
			share = float64(cfg.IPv6PrefixShare)
		}
		d := l.Allow(a, Instant(now))
		if want := ref.allow(a, now); d != want {
			t.Fatalf("step %d: %v at %d: %v, the model says %v", i, a, now, d, want)
		}
		total[d]++
		if quiet && d != Answer {
			t.Fatalf("step %d: %v quiet for a full burst got %v", i, a, d)
		}
		for _, k := range []*model{ka, kp} {
			switch d {
			case Answer:
				k.answers++
			case Kiss:
				k.kisses++
			}
			if kp == ka {
				break
			}
		}
		if bound := float64(cfg.Burst) + cfg.Rate*ka.elapsed/1e9 + 1; float64(ka.answers) > bound {
			t.Fatalf("step %d: %v answered %d times in %.0f ns, bound %.2f", i, a, ka.answers, ka.elapsed, bound)
		}
		if bound := share*float64(cfg.Burst) + share*cfg.Rate*kp.elapsed/1e9 + 1; float64(kp.answers) > bound {
			t.Fatalf("step %d: the prefix of %v answered %d times in %.0f ns, bound %.2f", i, a, kp.answers, kp.elapsed, bound)
		}
		if cfg.KissInterval < 0 && ka.kisses > 0 {
			t.Fatalf("step %d: kissed with KoD disabled", i)
		}
		if cfg.KissInterval > 0 {
			for _, k := range []*model{ka, kp} {
				if bound := 1 + k.elapsed/float64(cfg.KissInterval); float64(k.kisses) > bound {
					t.Fatalf("step %d: %v (or its prefix) kissed %d times in %.0f ns, bound %.2f", i, a, k.kisses, k.elapsed, bound)
				}
			}
		}
	}
	st := l.Stats()
	if st.Answered != total[Answer] || st.Kissed != total[Kiss] || st.Dropped != total[Drop] {
		t.Fatalf("stats %+v, counted %v", st, total)
	}
	if st.Evictions != 0 || st.Inserted != uint64(st.InUse) || st.InUse != len(ref.m) {
		t.Fatalf("stats %+v: entries replaced, or not the model's %d", st, len(ref.m))
	}
}

var (
	propRates  = []float64{1.0 / 8, 1, 3, 1000, 1.0 / 1024, 1e9}
	propKiss   = []time.Duration{-1, 1, time.Millisecond, time.Second, 8 * time.Second, time.Minute}
	propShares = []int{2, 3, 8, 1000}
)

// decodeSteps turns fuzz bytes into a configuration and steps: clock steps
// are multiples of T/32 in [-1024T, 1024T) and sources come from propAddrs.
func decodeSteps(data []byte) (Config, []step) {
	for len(data) < 4 {
		data = append(data, 0)
	}
	cfg := Config{
		Rate:            propRates[int(data[0])%len(propRates)],
		Burst:           1 + int(data[1])%16,
		KissInterval:    propKiss[int(data[2])%len(propKiss)],
		Entries:         []int{16, 32, 1024}[int(data[0]/8)%3],
		IPv6Prefix:      []int{64, 96, 112, 127, 128}[int(data[3])%5],
		IPv6PrefixShare: propShares[int(data[3]/5)%len(propShares)],
	}
	unit := int64(math.Ceil(1e9/cfg.Rate)) / 32
	var steps []step
	for b := data[4:]; len(b) >= 3; b = b[3:] {
		dt := int64(int16(uint16(b[1])<<8 | uint16(b[2])))
		if b[0]&0x80 == 0 {
			dt = max(dt, 0) % 64 // mostly small forward steps
		}
		steps = append(steps, step{addr: int(b[0]&0x7f) % len(propAddrs), dt: dt * unit})
	}
	return cfg, steps
}

func FuzzAllow(f *testing.F) {
	f.Add([]byte{0, 7, 4, 0, 0, 0, 0, 0, 0, 0, 1, 0, 32, 0x80, 0xff, 0})
	f.Add([]byte{1, 0, 0, 5, 0x83, 0x80, 0, 0, 0, 1, 1, 0, 1})
	f.Add([]byte{5, 15, 1, 4, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 5})
	f.Add([]byte{0, 1, 3, 10, 0, 0, 0, 1, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0, 0, 2, 0, 0, 3, 0, 0, 4, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, steps := decodeSteps(data)
		checkSteps(t, cfg, steps)
	})
}

func TestPropertyRandom(t *testing.T) {
	n := 400
	if testing.Short() {
		n = 40
	}
	for seed := range uint64(n) {
		rng := rand.New(rand.NewPCG(seed, 99))
		data := make([]byte, 4+3*rng.IntN(2000))
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		cfg, steps := decodeSteps(data)
		checkSteps(t, cfg, steps)
	}
}

// TestPropertyManyKeys churns a small table with random sources and times:
// no panic, decisions in range, counts consistent, table never over-full.
// The sources are IPv4 addresses and IPv6 addresses of a few thousand
// prefixes, many addresses to a prefix.
func TestPropertyManyKeys(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		cfg := Config{
			Rate:            propRates[rng.IntN(len(propRates))],
			Burst:           1 + rng.IntN(10),
			KissInterval:    propKiss[rng.IntN(len(propKiss))],
			Entries:         1 << rng.IntN(8),
			IPv6Prefix:      []int{48, 64, 120, 128}[rng.IntN(4)],
			IPv6PrefixShare: 2 + rng.IntN(10),
		}
		l, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		now := rng.Int64() - math.MaxInt64/2
		var counted [3]uint64
		for range 20000 {
			switch rng.IntN(10) {
			case 0:
				now = rng.Int64() // a wild jump, either way
			case 1:
				now -= rng.Int64N(int64(time.Hour))
			default:
				now += rng.Int64N(int64(time.Second))
			}
			var a netip.Addr
			if rng.IntN(4) == 0 {
				a = netip.AddrFrom4([4]byte{192, 0, byte(rng.IntN(4)), byte(rng.IntN(256))})
			} else {
				var b [16]byte
				binary.BigEndian.PutUint64(b[:8], rng.Uint64N(1+uint64(rng.IntN(1<<12))))
				binary.BigEndian.PutUint64(b[8:], rng.Uint64N(1+uint64(rng.IntN(1<<12))))
				a = netip.AddrFrom16(b)
			}
			d := l.Allow(a, Instant(now))
			if d > Drop {
				t.Fatalf("decision %d", d)
			}
			counted[d]++
		}
		s := l.Stats()
		if s.Answered != counted[Answer] || s.Kissed != counted[Kiss] || s.Dropped != counted[Drop] {
			t.Fatalf("stats %+v, counted %v", s, counted)
		}
		if s.InUse > s.Entries || s.Entries != l.Config().Entries {
			t.Fatalf("stats %+v", s)
		}
	}
}

func TestSources(t *testing.T) {
	l := mustNew(t, Config{Rate: 1, Burst: 1, KissInterval: time.Second})
	same := [][2]string{
		{"192.0.2.1", "::ffff:192.0.2.1"},          // IPv4-mapped is the IPv4 address
		{"fe80::1%eth0", "fe80::1"},                // the zone is ignored
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff::"}, // one /64
		{"2001:db8:1:2::", "2001:db8:1:2:8000::1"},
	}
	for _, p := range same {
		a, b := netip.MustParseAddr(p[0]), netip.MustParseAddr(p[1])
		if sourceOf(a).masked(l.hiMask, l.loMask) != sourceOf(b).masked(l.hiMask, l.loMask) || l.Prefix(a) != l.Prefix(b) {
			t.Errorf("%v and %v are different sources (%v, %v)", a, b, l.Prefix(a), l.Prefix(b))
		}
	}
	prefixes := map[string]string{
		"192.0.2.1":              "192.0.2.1/32",
		"::ffff:10.1.2.3":        "10.1.2.3/32",
		"2001:db8:1:2:3:4:5:6":   "2001:db8:1:2::/64",
		"::1":                    "::/64",
		"::ffff:0:1:2":           "::/64", // not IPv4-mapped: 0:1:2 is not in ::ffff:0:0/96
		"64:ff9b::c000:201":      "64:ff9b::/64",
		"fe80::1%eth0":           "fe80::/64",
		"2001:db8:ffff:ffff:1::": "2001:db8:ffff:ffff::/64",
	}
	for in, want := range prefixes {
		if got := l.Prefix(netip.MustParseAddr(in)); got.String() != want {
			t.Errorf("Prefix(%s) = %v, want %s", in, got, want)
		}
	}
	for _, c := range []struct {
		bits int
		in   string
		want string
	}{
		{128, "2001:db8::1", "2001:db8::1/128"},
		{56, "2001:db8:1:23ff::1", "2001:db8:1:2300::/56"},
		{48, "2001:db8:1:23ff::1", "2001:db8:1::/48"},
		{96, "2001:db8::1:2:3", "2001:db8::1:0:0/96"},
		{127, "2001:db8::3", "2001:db8::2/127"},
		{32, "2001:db8:1::", "2001:db8::/32"},
	} {
		lp := mustNew(t, Config{Rate: 1, Burst: 1, KissInterval: time.Second, IPv6Prefix: c.bits})
		if got := lp.Prefix(netip.MustParseAddr(c.in)); got.String() != c.want {
			t.Errorf("/%d: Prefix(%s) = %v, want %s", c.bits, c.in, got, c.want)
		}
	}
	// No IPv6 prefix, whatever its length, is the source of an IPv4 address.
	for bits := MinIPv6Prefix; bits <= 128; bits++ {
		hi, lo := prefixMasks(bits)
		for _, a := range []string{"::ffff:0:0", "::ffff:ffff:ffff", "::fffe:ffff:ffff", "::1:ffff:0:0", "0:0:0:1::ffff:0:0"} {
			addr := netip.MustParseAddr(a)
			if addr.Is4In6() {
				continue
			}
			v6 := sourceOf(addr).masked(hi, lo)
			if v6.hi == 0 && v6.lo>>32 == 0xffff {
				t.Errorf("/%d: %v is limited as an IPv4 address", bits, addr)
			}
		}
	}
	// Sets are chosen by a keyed hash: two limiters place sources apart.
	l1 := mustNew(t, DefaultConfig())
	l2 := mustNew(t, DefaultConfig())
	differ := 0
	for k := range uint64(64) {
		s := sourceOf(src(k)).masked(l1.hiMask, l1.loMask)
		if s.hash(l1.seed)&l1.setMask != s.hash(l2.seed)&l2.setMask {
			differ++
		}
	}
	if differ < 32 {
		t.Errorf("two limiters put %d of 64 sources in the same sets", 64-differ)
	}
}

// oldAddrKey is the key sources were matched by until issue 14: an unkeyed,
// invertible mix of the address.
func oldAddrKey(a netip.Addr) uint64 {
	b := a.Unmap().As16()
	return mix(binary.BigEndian.Uint64(b[:8])) ^ binary.BigEndian.Uint64(b[8:])
}

// TestCollisionAttack: a host with an IPv6 prefix computes, for a victim's
// address, an address of its own whose old key equals the victim's, and
// floods from it. The victim must still get its whole burst: no source can
// spend another's allowance. (Against the old key it got 1 answer of 5.)
func TestCollisionAttack(t *testing.T) {
	const burst = 5
	attackerNet := uint64(0x2001_0db8_0bad_0001) // the attacker's /64
	for _, victim := range []string{"192.0.2.7", "2001:db8:1:2::7", "::ffff:198.51.100.1"} {
		for _, bits := range []int{64, 128} {
			v := netip.MustParseAddr(victim)
			var b [16]byte
			binary.BigEndian.PutUint64(b[:8], attackerNet)
			binary.BigEndian.PutUint64(b[8:], mix(attackerNet)^oldAddrKey(v))
			attacker := netip.AddrFrom16(b)
			if oldAddrKey(attacker) != oldAddrKey(v) {
				t.Fatalf("test premise: %v does not collide with %v", attacker, v)
			}
			l := mustNew(t, Config{Rate: 1.0 / 8, Burst: burst, KissInterval: time.Second, Entries: 1024, IPv6Prefix: bits})
			now := 10 * sec
			attacked := 0
			for range 100 {
				if l.Allow(attacker, Instant(now)) == Answer {
					attacked++
				}
			}
			answered := 0
			for range burst {
				if l.Allow(v, Instant(now)) == Answer {
					answered++
				}
			}
			if answered != burst || attacked != burst {
				t.Errorf("/%d: after %v flooded, victim %v answered %d of %d (attacker %d of 100, want %d)",
					bits, attacker, v, answered, burst, attacked, burst)
			}
		}
	}
}

// inPrefix returns the address of host i in the /64 net.
func inPrefix(net uint64, i int) netip.Addr {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], net)
	binary.BigEndian.PutUint64(b[8:], mix(uint64(i)))
	return netip.AddrFrom16(b)
}

// TestIPv6PrefixFlood: a flood from 10 000 addresses of one /64, one request
// each, is limited by the prefix's allowance (IPv6PrefixShare bursts at once,
// then IPv6PrefixShare requests per emission interval), while the rest of
// the world is not touched; with IPv6Prefix 128 each address is limited on
// its own only. Before issue 14's second change a /64 got one burst
// (8 answers, then 1 per 8 s); before the first, each address its own.
func TestIPv6PrefixFlood(t *testing.T) {
	const burst = 8
	const net = 0x2001_0db8_0bad_0001
	flood := func(l *Limiter, now int64) (answered, kissed int) {
		for i := range 10000 {
			switch l.Allow(inPrefix(net, i), Instant(now)) {
			case Answer:
				answered++
			case Kiss:
				kissed++
			}
		}
		return answered, kissed
	}
	for _, c := range []struct {
		bits, share, want int
	}{{0, 0, 8 * burst}, {64, 8, 8 * burst}, {56, 8, 8 * burst}, {64, 2, 2 * burst}, {64, 3, 3 * burst}, {128, 8, 10000}} {
		l := mustNew(t, Config{Rate: 1.0 / 8, Burst: burst, KissInterval: time.Second, Entries: 1 << 16, IPv6Prefix: c.bits, IPv6PrefixShare: c.share})
		now := 10 * sec
		got, kissed := flood(l, now)
		if got != c.want {
			t.Errorf("IPv6Prefix %d share %d: a flood from 10000 addresses of one /64 got %d answers, want %d", c.bits, c.share, got, c.want)
		}
		if c.bits == 128 {
			continue
		}
		// One KoD for the prefix, and only the addresses that got a reply
		// were given an entry: the flood does not churn the table.
		if st := l.Stats(); kissed != 1 || st.Inserted != uint64(c.want+2) || st.Evictions != 0 {
			t.Errorf("IPv6Prefix %d share %d: %d kissed, stats %+v; want 1 kiss, %d insertions, no eviction", c.bits, c.share, kissed, st, c.want+2)
		}
		for _, other := range []string{"2001:db8:bad:201::1", "192.0.2.1", "::ffff:192.0.2.2"} {
			if a, _, _ := count(runAddr(l, netip.MustParseAddr(other), now, burst)); a != burst {
				t.Errorf("IPv6Prefix %d: %s got %d of its burst of %d after the flood", c.bits, other, a, burst)
			}
		}
		// The prefix gets its credit back at share times the rate: share
		// requests in 8 s (its emission interval rounded up to a whole ns).
		share := cmp.Or(c.share, DefaultPrefixShare)
		if got, _ := flood(l, now+int64(share)*l.pInterval); got != share {
			t.Errorf("IPv6Prefix %d share %d: 8 s later the /64 got %d answers, want %d", c.bits, c.share, got, share)
		}
	}
}

// TestIPv6AddressWithinPrefix: an IPv6 address is limited on its own as
// well as with its prefix. One address of a /64 that floods gets its own
// burst and no more, and its refused requests spend none of the prefix's
// allowance: the other addresses of the /64 still get theirs, up to the
// prefix's share; requests refused for the prefix spend none of their
// address's. (Before issue 14's second change the flooding address used up
// the whole /64: its neighbours got nothing.)
func TestIPv6AddressWithinPrefix(t *testing.T) {
	const burst, share = 4, 5
	const net = 0x2001_0db8_0000_0042
	l := mustNew(t, Config{Rate: 1.0 / 8, Burst: burst, KissInterval: time.Second, IPv6PrefixShare: share})
	now := 100 * sec
	flooder := inPrefix(net, 0)
	if a, k, _ := count(runAddr(l, flooder, now, 1000)); a != burst || k != 1 {
		t.Fatalf("flooding address: %d answered %d kissed, want %d and 1", a, k, burst)
	}
	for i := 1; i < share; i++ {
		if a, _, _ := count(runAddr(l, inPrefix(net, i), now, burst)); a != burst {
			t.Errorf("address %d of the flooded /64 got %d of its burst of %d", i, a, burst)
		}
	}
	// The prefix has now had share bursts: every address of it is refused,
	// a fresh one too, whatever it has left of its own.
	late := inPrefix(net, share)
	if a, _, _ := count(runAddr(l, late, now, 100)); a != 0 {
		t.Errorf("address %d got %d answers beyond the prefix's allowance", share, a)
	}
	// 8 s later the prefix has share requests' credit back. The flooder has
	// one of its own, and the late address (whose refused requests spent
	// nothing) its whole burst: it gets the rest.
	now += 8 * sec
	if a, _, _ := count(runAddr(l, flooder, now, 1000)); a != 1 {
		t.Errorf("flooder after 8 s: %d answers, want 1", a)
	}
	if a, _, _ := count(runAddr(l, late, now, 100)); a != min(burst, share-1) {
		t.Errorf("late address after 8 s: %d answers, want %d", a, min(burst, share-1))
	}
	// A steady flooder at 100 times the rate gets the rate, and leaves its
	// neighbours the rest of the prefix's.
	l = mustNew(t, Config{Rate: 1.0 / 8, Burst: burst, KissInterval: time.Second, IPv6PrefixShare: share})
	var flood, polite int
	for i := range 100 * 100 {
		now += 8 * sec / 100
		if l.Allow(flooder, Instant(now)) == Answer {
			flood++
		}
		if i%100 == 0 {
			for h := 1; h < share; h++ {
				if l.Allow(inPrefix(net, h), Instant(now)) == Answer {
					polite++
				}
			}
		}
	}
	if flood > burst+100 || polite != 100*(share-1) {
		t.Errorf("steady flood for 100 intervals: flooder %d answers (want at most %d), its %d polite neighbours %d of %d",
			flood, burst+100, share-1, polite, 100*(share-1))
	}
}

// TestPrefixKeepsItsAddress: in a full set, making room for an address's
// prefix never replaces the entry of that address itself, even when it is
// the entry that restricts least.
func TestPrefixKeepsItsAddress(t *testing.T) {
	l := mustNew(t, Config{Rate: 1.0 / 8, Burst: 8, KissInterval: time.Second, Entries: Ways}) // one set
	t0 := 100 * sec
	a := netip.MustParseAddr("2001:db8::1")
	l.Allow(a, Instant(t0)) // a at t0+8 s, its /64 at t0+1 s
	for _, other := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"} {
		runAddr(l, netip.MustParseAddr(other), t0, 8) // each at t0+64 s; the third replaces the /64
	}
	if find(&l.sets[0], sourceOf(a).masked(l.hiMask, l.loMask), 64) != nil || find(&l.sets[0], sourceOf(a), 128) == nil {
		t.Fatal("test premise: the /64 was not the entry replaced")
	}
	if d := l.Allow(a, Instant(t0)); d != Answer {
		t.Fatalf("second request: %v", d)
	}
	e := find(&l.sets[0], sourceOf(a), 128)
	p := find(&l.sets[0], sourceOf(a).masked(l.hiMask, l.loMask), 64)
	if e == nil || p == nil || e.tat != t0+16*sec || p.tat != t0+sec {
		t.Errorf("after the second request: address entry %+v, prefix entry %+v; want both, at t0+16 s and t0+1 s", e, p)
	}
	// Nor does a new address of the prefix replace the prefix's entry.
	b := netip.MustParseAddr("2001:db8::2")
	if d := l.Allow(b, Instant(t0)); d != Answer {
		t.Fatalf("new address: %v", d)
	}
	e = find(&l.sets[0], sourceOf(b), 128)
	p = find(&l.sets[0], sourceOf(b).masked(l.hiMask, l.loMask), 64)
	if e == nil || p == nil || e.tat != t0+8*sec || p.tat != t0+2*sec {
		t.Errorf("after a new address: its entry %+v, the prefix's %+v; want both, at t0+8 s and t0+2 s", e, p)
	}
}

// TestIPv4LimitedOnItsOwn: IPv4 addresses, and IPv4-mapped ones, are limited
// one by one whatever IPv6Prefix and IPv6PrefixShare say: neighbours in a
// /24 do not share an allowance, and each takes one entry.
func TestIPv4LimitedOnItsOwn(t *testing.T) {
	for _, bits := range []int{32, 64, 96, 128} {
		l := mustNew(t, Config{Rate: 1.0 / 8, Burst: 3, KissInterval: time.Second, IPv6Prefix: bits, IPv6PrefixShare: 2})
		for i := range 20 {
			a := netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})
			if i%2 == 1 {
				a = netip.AddrFrom16(a.As16()) // IPv4-mapped
			}
			if an, k, _ := count(runAddr(l, a, sec, 10)); an != 3 || k != 1 {
				t.Errorf("/%d: %v got %d answers %d kisses, want 3 and 1", bits, a, an, k)
			}
		}
		if st := l.Stats(); st.Inserted != 20 || st.InUse != 20 {
			t.Errorf("/%d: 20 IPv4 addresses: %+v, want 20 entries", bits, st)
		}
	}
}

// runAddr sends n requests from a at now and returns the decisions in order.
func runAddr(l *Limiter, a netip.Addr, now int64, n int) []Decision {
	out := make([]Decision, n)
	for i := range out {
		out[i] = l.Allow(a, Instant(now))
	}
	return out
}

func TestDecisionString(t *testing.T) {
	for d, want := range map[Decision]string{Answer: "answer", Kiss: "kiss", Drop: "drop", 9: "Decision(9)"} {
		if got := d.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", d, got, want)
		}
	}
}

// benchAddrs returns n source addresses, each its own /64, made before the
// benchmark runs so that it measures Allow alone.
func benchAddrs(n int, base uint64) []netip.Addr {
	out := make([]netip.Addr, n)
	for i := range out {
		out[i] = src(mix(base | uint64(i)))
	}
	return out
}

func BenchmarkAllow(b *testing.B) {
	l := mustNew(b, DefaultConfig())
	addrs := benchAddrs(4096, 0)
	now := int64(0)
	var i int
	b.ReportAllocs()
	for b.Loop() {
		i++
		l.Allow(addrs[i&4095], Instant(now)) // 4096 sources, each sending every ~16 µs
		now += int64(4 * time.Nanosecond)
	}
}

// BenchmarkAllowIPv4 is BenchmarkAllow with IPv4 sources, which are limited
// by their address alone (one entry per request).
func BenchmarkAllowIPv4(b *testing.B) {
	l := mustNew(b, DefaultConfig())
	addrs := make([]netip.Addr, 4096)
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{10, byte(mix(uint64(i)) >> 56), byte(i >> 8), byte(i)})
	}
	now := int64(0)
	var i int
	b.ReportAllocs()
	for b.Loop() {
		i++
		l.Allow(addrs[i&4095], Instant(now))
		now += int64(4 * time.Nanosecond)
	}
}

func BenchmarkAllowNewSources(b *testing.B) {
	l := mustNew(b, DefaultConfig())
	addrs := benchAddrs(1<<18, 0) // four times the table: every source is new again when it comes back
	now := int64(0)
	var i int
	b.ReportAllocs()
	for b.Loop() {
		i++
		l.Allow(addrs[i&(1<<18-1)], Instant(now)) // every request from a new source: evictions
		now += int64(time.Microsecond)
	}
}

func BenchmarkAllowParallel(b *testing.B) {
	l := mustNew(b, DefaultConfig())
	var ids atomic.Uint64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		addrs := benchAddrs(4096, ids.Add(1)<<40) // each goroutine (socket) its own 4096 sources
		now := int64(0)                           // and its own clock, as a socket's receive timestamps
		var i int
		for pb.Next() {
			i++
			l.Allow(addrs[i&4095], Instant(now))
			now += int64(4 * time.Nanosecond)
		}
	})
}

func BenchmarkAllowParallelOneSource(b *testing.B) {
	l := mustNew(b, DefaultConfig())
	a := src(1)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Allow(a, 0)
		}
	})
}

func BenchmarkStats(b *testing.B) {
	l := mustNew(b, DefaultConfig())
	for _, a := range benchAddrs(1<<17, 0) {
		l.Allow(a, 0)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = l.Stats()
	}
}

func BenchmarkAllowDisabled(b *testing.B) {
	l := mustNew(b, Config{})
	addrs := benchAddrs(4096, 0)
	var i int
	b.ReportAllocs()
	for b.Loop() {
		i++
		l.Allow(addrs[i&4095], 0)
	}
}
