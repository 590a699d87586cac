package ratelimit

import (
	"fmt"
	"hash/maphash"
	"math"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/leapsmear/leapsmear/internal/option"
)

// Decision is what the server should do with one request.
type Decision uint8

const (
	// Answer: the source is within its rate; serve the request normally.
	Answer Decision = iota
	// Kiss: the source is over its rate; reply with a RATE Kiss-o'-Death.
	Kiss
	// Drop: the source is over its rate and was kissed recently; send nothing.
	Drop
)

// String returns "answer", "kiss" or "drop".
func (d Decision) String() string {
	switch d {
	case Answer:
		return "answer"
	case Kiss:
		return "kiss"
	case Drop:
		return "drop"
	}
	return fmt.Sprintf("Decision(%d)", uint8(d))
}

// Defaults, chosen to match the rate limits of chrony and ntpd (see the
// package comment).
const (
	DefaultRate         = 1.0 / 8         // one request per 8 s (chrony "interval 3", ntpd "average 3")
	DefaultBurst        = 8               // chrony's default burst
	DefaultKissInterval = 8 * time.Second // at most one KoD per source per emission interval
	DefaultEntries      = 1 << 16         // 4 MiB of table
	DefaultIPv6Prefix   = 64              // an IPv6 subscriber's smallest prefix
)

// Limits on the configuration.
const (
	// Ways is the number of entries in one set of the table: a source can
	// only live in the Ways slots of its set.
	Ways = 4
	// MaxEntries is the largest table accepted (4 GiB).
	MaxEntries = 1 << 26
	// MinIPv6Prefix is the shortest IPv6 prefix accepted as one source
	// (a /32 is a whole ISP's allocation).
	MinIPv6Prefix = 32
	// maxCredit bounds Burst times the emission interval (about 36
	// years), and Allow clamps its time argument to ±timeLimit (about 146
	// years either side of 0): together they keep every sum within int64,
	// so that limits hold even at the ends of the clock's range.
	maxCredit = 1 << 60
	timeLimit = 1 << 62
)

// Config sets the limits of a Limiter.
type Config struct {
	// Rate is the sustained number of requests per second allowed per
	// source, e.g. 1.0/8 for one per 8 s. 0 disables limiting: every
	// request is answered and no table is allocated.
	Rate float64
	// Burst is the number of requests a source that has been quiet may send
	// at once. At least 1 when Rate > 0.
	Burst int
	// KissInterval is the shortest time between two RATE Kiss-o'-Death
	// replies to one source; the rest of its excess is dropped. It must be
	// positive when Rate > 0, or negative to never send a KoD (drop all
	// the excess). Zero is rejected, because it would reflect every excess
	// request.
	KissInterval time.Duration
	// Entries is the number of sources the table can hold, rounded up to a
	// power of two and to at least Ways; 0 means DefaultEntries.
	Entries int
	// IPv6Prefix is the prefix length by which IPv6 sources are limited:
	// all the addresses of one prefix share one entry and one allowance, as
	// one IPv4 address is one source. A subscriber gets a /64 at least (often
	// a /56 or a /48) where it gets one IPv4 address, so that limited per
	// address one host could claim a fresh burst from each of 2^64
	// addresses. 128 limits each IPv6 address on its own; 0 means
	// DefaultIPv6Prefix (64); otherwise it must lie between MinIPv6Prefix
	// and 128. (Within a prefix there is no second, per-address limit: with
	// the same rate it could never refuse what the prefix's allows.)
	// IPv4 and IPv4-mapped addresses are always limited one by one.
	IPv6Prefix int
}

// DefaultConfig returns the recommended limits: DefaultRate, DefaultBurst,
// DefaultKissInterval and DefaultEntries.
func DefaultConfig() Config {
	return Config{Rate: DefaultRate, Burst: DefaultBurst, KissInterval: DefaultKissInterval, Entries: DefaultEntries,
		IPv6Prefix: DefaultIPv6Prefix}
}

// Stats are counters of a Limiter since it was made.
type Stats struct {
	Entries int // capacity of the table (0 when limiting is disabled)
	InUse   int // slots that hold a source (they are reused, never freed)
	// Inserted counts new sources given a slot: sources seen for the first
	// time, and sources seen again after their entry was replaced.
	Inserted uint64
	// Evictions counts sources forgotten while still holding spent credit,
	// to make room for a new source in a full set: each such source starts
	// again with a full burst (the limiter fails open). Replacing an entry
	// whose source has its full burst back loses nothing and is not
	// counted.
	Evictions uint64
	Answered  uint64 // requests answered
	Kissed    uint64 // requests answered with a RATE Kiss-o'-Death
	Dropped   uint64 // requests dropped
}

// entry is the state of one source, 48 bytes.
type entry struct {
	src    source // the source, all 128 bits
	tat    int64  // GCRA theoretical arrival time, ns on the caller's clock
	kissAt int64  // time of the last Kiss, ns; math.MinInt64 if none
	seen   int64  // time of the last request, ns
	used   bool   // the slot holds a source
}

// setHeader is the lock and the counters of one set.
type setHeader struct {
	mu                                             sync.Mutex
	answered, kissed, dropped, evictions, inserted uint64
}

// set is Ways entries behind a header of one cache line: 256 bytes, four
// cache lines that only the CPUs serving the set's sources touch. (A shared
// array of locks or counters would bounce between the CPUs on every call.)
type set struct {
	setHeader
	_       [64 - unsafe.Sizeof(setHeader{})]byte
	entries [Ways]entry
}

// counter counts answers when limiting is disabled, padded to 128 bytes so
// that no two share a cache line.
type counter struct {
	n atomic.Uint64
	_ [120]byte
}

const never = math.MinInt64

// Limiter limits the request rate of each source in a table of fixed size.
// Its methods are safe for concurrent use.
type Limiter struct {
	cfg      Config
	interval int64 // emission interval T = ceil(1e9/Rate), ns
	credit   int64 // Burst*T, ns
	kiss     int64 // KissInterval, ns; negative: never kiss
	seed     maphash.Seed
	spread   uint64 // picks a counter when disabled
	hiMask   uint64 // IPv6Prefix as masks of the two halves of an address
	loMask   uint64
	setMask  uint64
	sets     []set     // nil when disabled
	free     []counter // answers when disabled
}

// New returns a Limiter for cfg, or an error naming the first bad field.
// It draws the secret seed of the hash that places sources in the table.
func New(cfg Config) (*Limiter, error) {
	if math.IsNaN(cfg.Rate) || math.IsInf(cfg.Rate, 0) || cfg.Rate < 0 {
		return nil, option.Errorf("rate-limit", cfg.Rate, "want a finite number of requests per second, 0 or more")
	}
	if cfg.Entries < 0 || cfg.Entries > MaxEntries {
		return nil, option.Errorf("rate-entries", cfg.Entries, "want 0 (default %d) to %d", DefaultEntries, MaxEntries)
	}
	if cfg.Burst < 0 {
		return nil, option.Errorf("rate-burst", cfg.Burst, "want 1 or more")
	}
	if cfg.IPv6Prefix == 0 {
		cfg.IPv6Prefix = DefaultIPv6Prefix
	}
	if cfg.IPv6Prefix < MinIPv6Prefix || cfg.IPv6Prefix > 128 {
		return nil, option.Errorf("rate-ipv6-prefix", cfg.IPv6Prefix, "want a prefix length from %d to 128 (0: %d)", MinIPv6Prefix, DefaultIPv6Prefix)
	}
	l := &Limiter{cfg: cfg, seed: maphash.MakeSeed(), spread: rand.Uint64()}
	l.hiMask, l.loMask = prefixMasks(cfg.IPv6Prefix)
	if cfg.Rate == 0 {
		l.cfg.Entries = 0
		l.free = make([]counter, min(max(nextPow2(4*runtime.GOMAXPROCS(0)), 8), 1024))
		return l, nil
	}
	if cfg.Burst < 1 {
		return nil, option.Errorf("rate-burst", cfg.Burst, "want 1 or more")
	}
	if cfg.KissInterval == 0 {
		return nil, option.Errorf("kiss-interval", time.Duration(0), "want more than 0 (or negative to never send a Kiss-o'-Death)")
	}
	if cfg.Rate > 1e9 {
		return nil, option.Errorf("rate-limit", cfg.Rate, "want at most 1e9 requests per second")
	}
	t := math.Ceil(1e9 / cfg.Rate) // emission interval, ns, rounded towards stricter
	if t*float64(cfg.Burst) > maxCredit {
		return nil, option.Errorf("rate-burst", cfg.Burst, "with rate-limit %v, burst/rate must be below %.0f years", cfg.Rate, maxCredit/1e9/86400/365.25)
	}
	l.interval = int64(t)
	l.credit = l.interval * int64(cfg.Burst)
	l.kiss = int64(cfg.KissInterval)
	n := cfg.Entries
	if n == 0 {
		n = DefaultEntries
	}
	n = max(nextPow2(n), Ways)
	l.cfg.Entries = n
	l.sets = make([]set, n/Ways)
	l.setMask = uint64(len(l.sets) - 1)
	return l, nil
}

func nextPow2(n int) int {
	p := 1
	for p < n {
		p <<= 1
	}
	return p
}

// Instant is the limiter's time: nanoseconds on a clock that mostly goes
// forward, from any origin (the server passes the continuous scale,
// leap.TAI, which never jumps). Only differences of Instants mean anything.
type Instant int64

// Config returns the configuration in force, with Entries as allocated.
func (l *Limiter) Config() Config { return l.cfg }

// Allow records one request from the address addr at time now and says what
// to do with it. The request counts against addr's source (see Prefix): the
// address itself for IPv4, its /IPv6Prefix for IPv6; the zone is ignored.
// now is read on a clock that mostly goes forward (Instant): a step
// backwards counts as no time passing for the sources it touches, and times
// beyond ±2^62 ns (146 years) are taken as that bound.
// Allow does not allocate, and locks only the set of the source.
func (l *Limiter) Allow(addr netip.Addr, at Instant) Decision {
	now := int64(at)
	src := sourceOf(addr, l.hiMask, l.loMask)
	if l.sets == nil {
		l.free[mix(src.hi^src.lo^l.spread)&uint64(len(l.free)-1)].n.Add(1)
		return Answer
	}
	now = min(max(now, -timeLimit), timeLimit)
	s := &l.sets[src.hash(l.seed)&l.setMask]
	s.mu.Lock()
	d := l.decide(l.slot(s, src, now), now)
	switch d {
	case Answer:
		s.answered++
	case Kiss:
		s.kissed++
	default:
		s.dropped++
	}
	s.mu.Unlock()
	return d
}

// slot returns src's entry in s, claiming an empty or replaced slot for a
// new source. The caller holds the set's lock.
func (l *Limiter) slot(s *set, src source, now int64) *entry {
	es := &s.entries
	for i := range es {
		if es[i].used && es[i].src == src {
			return &es[i]
		}
	}
	var victim *entry
	for i := range es {
		e := &es[i]
		if !e.used {
			victim = e
			break
		}
		// Replace the entry that restricts its source least: the one
		// with the earliest theoretical arrival time (ties: seen longest
		// ago). A source with its full burst available (tat <= now) is
		// forgotten without loss, since a fresh entry decides the same.
		if victim == nil || e.tat < victim.tat || (e.tat == victim.tat && e.seen < victim.seen) {
			victim = e
		}
	}
	if victim.used && victim.tat > now {
		s.evictions++
	}
	s.inserted++
	*victim = entry{src: src, tat: now, kissAt: never, seen: now, used: true}
	return victim
}

// decide applies GCRA to e at time now. The caller holds the lock.
func (l *Limiter) decide(e *entry, now int64) Decision {
	if now < e.seen {
		// The clock went back: shift this source's state with it, so that
		// no time has passed for it.
		back := satSub(e.seen, now)
		e.tat = satSub(e.tat, back)
		if e.kissAt != never {
			e.kissAt = satSub(e.kissAt, back)
		}
	}
	e.seen = now
	next := satAdd(max(e.tat, now), l.interval)
	if satSub(next, now) <= l.credit {
		e.tat = next
		return Answer
	}
	if l.kiss >= 0 && (e.kissAt == never || satSub(now, e.kissAt) >= l.kiss) {
		e.kissAt = now
		return Kiss
	}
	return Drop
}

// Stats returns the counters. It walks the whole table, locking one set at a
// time (about half a millisecond for the default table): call it to export
// metrics, not per request. Under load, the sets are read at slightly
// different instants.
func (l *Limiter) Stats() Stats {
	st := Stats{Entries: l.cfg.Entries}
	for i := range l.free {
		st.Answered += l.free[i].n.Load()
	}
	for i := range l.sets {
		s := &l.sets[i]
		s.mu.Lock()
		st.Answered += s.answered
		st.Kissed += s.kissed
		st.Dropped += s.dropped
		st.Evictions += s.evictions
		st.Inserted += s.inserted
		for j := range s.entries {
			if s.entries[j].used {
				st.InUse++
			}
		}
		s.mu.Unlock()
	}
	return st
}

// MemoryBytes returns the size of the limiter's table: 64 bytes per entry
// (an entry of 48 bytes, and a 64-byte header of lock and counters per set
// of Ways entries), or a few KiB of counters when limiting is disabled. It
// is fixed when the Limiter is made and does not grow with the number of
// sources.
func (l *Limiter) MemoryBytes() int {
	return len(l.sets)*int(unsafe.Sizeof(set{})) + len(l.free)*int(unsafe.Sizeof(counter{}))
}

// mix is the SplitMix64 finaliser, a bijection of uint64 that spreads every
// input bit over the output. It spreads the disabled limiter's counting over
// its counters; it keys nothing.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// satAdd returns a+b for b >= 0, saturated at math.MaxInt64.
func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// satSub returns a-b saturated to the int64 range.
func satSub(a, b int64) int64 {
	c := a - b
	if (a^b) < 0 && (a^c) < 0 {
		if a < 0 {
			return math.MinInt64
		}
		return math.MaxInt64
	}
	return c
}
