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
	DefaultPrefixShare  = 8               // a prefix may send as much as 8 addresses
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
	// MaxPrefixShare is the largest IPv6PrefixShare accepted.
	MaxPrefixShare = 1 << 16
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
	// IPv6Prefix is the length of the prefix by which IPv6 sources are
	// limited as well as one by one: a request from an IPv6 address is
	// answered only when both the address and its prefix have allowance,
	// the address Rate and Burst, the prefix IPv6PrefixShare times as much.
	// A subscriber gets a /64 at least (often a /56 or a /48) where it gets
	// one IPv4 address, so that limited per address alone one host could
	// claim a fresh burst from each of 2^64 addresses. 128 limits each IPv6
	// address on its own only; 0 means DefaultIPv6Prefix (64); otherwise it
	// must lie between MinIPv6Prefix and 128. IPv4 and IPv4-mapped
	// addresses are always limited one by one.
	IPv6Prefix int
	// IPv6PrefixShare is how many times an address's allowance its IPv6
	// prefix gets: the prefix's rate is IPv6PrefixShare*Rate and its burst
	// IPv6PrefixShare*Burst, so that IPv6PrefixShare addresses of one prefix
	// can each keep to the full rate, and one address alone can take at most
	// 1/IPv6PrefixShare of its prefix's allowance, leaving the rest to its
	// neighbours. 0 means DefaultPrefixShare (8); otherwise from 2 (a share
	// of 1 would make the per-address limit never refuse anything the
	// prefix's allows) to MaxPrefixShare. Unused when IPv6Prefix is 128.
	IPv6PrefixShare int
}

// DefaultConfig returns the recommended limits: DefaultRate, DefaultBurst,
// DefaultKissInterval, DefaultEntries, DefaultIPv6Prefix and
// DefaultPrefixShare.
func DefaultConfig() Config {
	return Config{Rate: DefaultRate, Burst: DefaultBurst, KissInterval: DefaultKissInterval, Entries: DefaultEntries,
		IPv6Prefix: DefaultIPv6Prefix, IPv6PrefixShare: DefaultPrefixShare}
}

// Stats are counters of a Limiter since it was made.
type Stats struct {
	// Entries is the capacity of the table (0 when limiting is disabled).
	// An IPv4 address takes one entry; an IPv6 address two, its own and its
	// prefix's, which the addresses of the prefix share.
	Entries int
	InUse   int // slots that hold a source (they are reused, never freed)
	// Inserted counts new sources (addresses and IPv6 prefixes) given a
	// slot: sources seen for the first time, and sources seen again after
	// their entry was replaced.
	Inserted uint64
	// Evictions counts sources forgotten while still holding spent credit,
	// to make room for a new source in a full set: each such source starts
	// again with a full allowance (the limiter fails open). Replacing an
	// entry whose source has its full burst back loses nothing and is not
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
	// bits is the prefix length of src: 128 for an address (IPv4 too),
	// IPv6Prefix for a prefix, 0 when the slot is free.
	bits uint8
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
	cfg        Config
	interval   int64 // emission interval T = ceil(1e9/Rate), ns
	credit     int64 // Burst*T, ns
	pInterval  int64 // a prefix's emission interval, ceil(1e9/(IPv6PrefixShare*Rate)), ns
	pCredit    int64 // a prefix's credit, IPv6PrefixShare*Burst*pInterval, ns
	kiss       int64 // KissInterval, ns; negative: never kiss
	seed       maphash.Seed
	prefixSeed maphash.Seed // places the prefixes' entries
	spread     uint64       // picks a counter when disabled
	hiMask     uint64       // IPv6Prefix as masks of the two halves of an address
	loMask     uint64
	bits       uint8 // IPv6Prefix; 128: no per-prefix limit
	setMask    uint64
	sets       []set     // nil when disabled
	free       []counter // answers when disabled
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
	if cfg.IPv6PrefixShare == 0 {
		cfg.IPv6PrefixShare = DefaultPrefixShare
	}
	if cfg.IPv6PrefixShare < 2 || cfg.IPv6PrefixShare > MaxPrefixShare {
		return nil, option.Errorf("rate-ipv6-prefix-share", cfg.IPv6PrefixShare,
			"want 2 to %d addresses' allowance per prefix (0: %d); a prefix must get more than one of its addresses", MaxPrefixShare, DefaultPrefixShare)
	}
	l := &Limiter{cfg: cfg, seed: maphash.MakeSeed(), prefixSeed: maphash.MakeSeed(), spread: rand.Uint64(), bits: uint8(cfg.IPv6Prefix)}
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
	share := float64(cfg.IPv6PrefixShare)
	pt := math.Ceil(1e9 / (cfg.Rate * share))
	if pt*share*float64(cfg.Burst) > maxCredit {
		return nil, option.Errorf("rate-ipv6-prefix-share", cfg.IPv6PrefixShare, "with rate-limit %v and rate-burst %d, share*burst/rate must be below %.0f years",
			cfg.Rate, cfg.Burst, maxCredit/1e9/86400/365.25)
	}
	l.interval = int64(t)
	l.credit = l.interval * int64(cfg.Burst)
	l.pInterval = int64(pt)
	l.pCredit = l.pInterval * int64(cfg.Burst) * int64(cfg.IPv6PrefixShare)
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
// to do with it. The request counts against addr itself and, for an IPv6
// address, against its /IPv6Prefix too (see Prefix); the zone is ignored. It
// is answered only when both have allowance, and then spends both; a
// refused request spends neither.
// now is read on a clock that mostly goes forward (Instant): a step
// backwards counts as no time passing for the sources it touches, and times
// beyond ±2^62 ns (146 years) are taken as that bound.
// Allow does not allocate, and locks only the sets of the address and its
// prefix.
func (l *Limiter) Allow(addr netip.Addr, at Instant) Decision {
	now := int64(at)
	src := sourceOf(addr)
	if l.sets == nil {
		l.free[mix(src.hi^src.lo^l.spread)&uint64(len(l.free)-1)].n.Add(1)
		return Answer
	}
	now = min(max(now, -timeLimit), timeLimit)
	if l.bits < 128 && !src.isIPv4() {
		return l.allowPrefixed(src, now)
	}
	s := &l.sets[src.hash(l.seed)&l.setMask]
	s.mu.Lock()
	d := l.decide(l.slot(s, src, 128, now, nil), now)
	s.count(d)
	s.mu.Unlock()
	return d
}

// allowPrefixed decides for an IPv6 address src, limited on its own and as
// part of its prefix. Both sets are locked, in the order of the table, so
// that the decision and what it spends are one step.
//
// The address's entry is made only when the request gets a reply (an answer
// or a Kiss): a flood from fresh addresses of a prefix over its limit then
// makes no entries, and cannot churn the table faster than the prefix is
// sent replies.
//
// A refused request spends nothing, from its address or its prefix: an
// address over its own limit does not use up its prefix's allowance (one
// address takes at most its own allowance, 1/IPv6PrefixShare of the
// prefix's), nor does a request refused for its prefix count against its
// address. A refused request gets a Kiss only if neither its address nor its
// prefix has had one for KissInterval, and both then record it: each
// address, and each prefix as a whole, gets at most one Kiss per
// KissInterval.
func (l *Limiter) allowPrefixed(src source, now int64) Decision {
	pre := src.masked(l.hiMask, l.loMask)
	ai, pi := src.hash(l.seed)&l.setMask, pre.hash(l.prefixSeed)&l.setMask
	as, ps := &l.sets[ai], &l.sets[pi]
	first, second := as, ps
	if pi < ai {
		first, second = ps, as
	}
	first.mu.Lock()
	if second != first {
		second.mu.Lock()
	}
	ae := find(as, src, 128)
	pe := l.slot(ps, pre, l.bits, now, ae) // in a shared set, the address's entry stays
	settle(pe, now)
	pNext, pOK := fits(pe, now, l.pInterval, l.pCredit)
	aNext, aOK := satAdd(now, l.interval), true // a new address has its whole burst
	if ae != nil {
		settle(ae, now)
		aNext, aOK = fits(ae, now, l.interval, l.credit)
	}
	var d Decision
	switch {
	case pOK && aOK:
		if ae == nil {
			ae = l.slot(as, src, 128, now, pe)
		}
		ae.tat, pe.tat = aNext, pNext
		d = Answer
	case l.kiss >= 0 && l.mayKiss(pe, now) && (ae == nil || l.mayKiss(ae, now)):
		if ae == nil {
			ae = l.slot(as, src, 128, now, pe)
		}
		ae.kissAt, pe.kissAt = now, now
		d = Kiss
	default:
		d = Drop
	}
	as.count(d)
	if second != first {
		second.mu.Unlock()
	}
	first.mu.Unlock()
	return d
}

// count counts a decision. The caller holds the set's lock.
func (s *set) count(d Decision) {
	switch d {
	case Answer:
		s.answered++
	case Kiss:
		s.kissed++
	default:
		s.dropped++
	}
}

// find returns the entry of src as a source of bits bits in s, or nil. The
// caller holds the set's lock.
func find(s *set, src source, bits uint8) *entry {
	es := &s.entries
	for i := range es {
		if es[i].src == src && es[i].bits == bits {
			return &es[i]
		}
	}
	return nil
}

// slot returns the entry of src as a source of bits bits in s, claiming an
// empty or replaced slot for a new source; it never replaces keep. The
// caller holds the set's lock.
func (l *Limiter) slot(s *set, src source, bits uint8, now int64, keep *entry) *entry {
	if e := find(s, src, bits); e != nil {
		return e
	}
	es := &s.entries
	var victim *entry
	for i := range es {
		e := &es[i]
		if e == keep {
			continue
		}
		if e.bits == 0 {
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
	if victim.bits != 0 && victim.tat > now {
		s.evictions++
	}
	s.inserted++
	*victim = entry{src: src, tat: now, kissAt: never, seen: now, bits: bits}
	return victim
}

// decide applies GCRA to the entry of an address limited on its own at time
// now. The caller holds the lock.
func (l *Limiter) decide(e *entry, now int64) Decision {
	settle(e, now)
	if next, ok := fits(e, now, l.interval, l.credit); ok {
		e.tat = next
		return Answer
	}
	if l.kiss >= 0 && l.mayKiss(e, now) {
		e.kissAt = now
		return Kiss
	}
	return Drop
}

// settle brings e to time now. If the clock went back, it shifts the
// entry's state with it, so that no time has passed for it.
func settle(e *entry, now int64) {
	if now < e.seen {
		shiftBack(e, now)
	}
	e.seen = now
}

// shiftBack moves e's times back by as much as now is before e.seen.
func shiftBack(e *entry, now int64) {
	back := satSub(e.seen, now)
	e.tat = satSub(e.tat, back)
	if e.kissAt != never {
		e.kissAt = satSub(e.kissAt, back)
	}
}

// fits says whether a request at now is within e's allowance, for an
// emission interval and a credit, and returns the entry's theoretical
// arrival time if it is answered.
func fits(e *entry, now, interval, credit int64) (next int64, ok bool) {
	next = satAdd(max(e.tat, now), interval)
	return next, satSub(next, now) <= credit
}

// mayKiss says whether e has had no Kiss for KissInterval.
func (l *Limiter) mayKiss(e *entry, now int64) bool {
	return e.kissAt == never || satSub(now, e.kissAt) >= l.kiss
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
			if s.entries[j].bits != 0 {
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
