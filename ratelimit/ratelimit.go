package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
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
	DefaultEntries      = 1 << 16         // 2 MiB of table
)

// Limits on the configuration.
const (
	// Ways is the number of entries in one set of the table: a source can
	// only live in the Ways slots of its set.
	Ways = 4
	// MaxEntries is the largest table accepted (2 GiB).
	MaxEntries = 1 << 26
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
}

// DefaultConfig returns the recommended limits: DefaultRate, DefaultBurst,
// DefaultKissInterval and DefaultEntries.
func DefaultConfig() Config {
	return Config{Rate: DefaultRate, Burst: DefaultBurst, KissInterval: DefaultKissInterval, Entries: DefaultEntries}
}

// Stats are counters of a Limiter since it was made.
type Stats struct {
	Entries   int    // capacity of the table (0 when limiting is disabled)
	InUse     int    // slots that hold a source (they are reused, never freed)
	Evictions uint64 // sources forgotten while still holding spent credit
	Answered  uint64 // requests answered
	Kissed    uint64 // requests answered with a RATE Kiss-o'-Death
	Dropped   uint64 // requests dropped
}

// entry is the state of one source: 32 bytes, so a set of Ways entries is
// 128 bytes, two cache lines.
type entry struct {
	key    uint64 // the source's key; 0 marks an empty slot
	tat    int64  // GCRA theoretical arrival time, ns on the caller's clock
	kissAt int64  // time of the last Kiss, ns; math.MinInt64 if none
	seen   int64  // time of the last request, ns
}

// counters are one stripe's lock and statistics.
type counters struct {
	mu        sync.Mutex
	answered  atomic.Uint64
	kissed    atomic.Uint64
	dropped   atomic.Uint64
	evictions atomic.Uint64
	inUse     atomic.Uint64
}

// stripe pads counters to 128 bytes so that two stripes never share a cache
// line (nor a pair of lines fetched together).
type stripe struct {
	counters
	_ [128 - unsafe.Sizeof(counters{})%128]byte
}

// zeroKey stands for key 0, since 0 marks an empty slot.
const zeroKey = 0x9e3779b97f4a7c15

const never = math.MinInt64

// Limiter limits the request rate of each source in a table of fixed size.
// Its methods are safe for concurrent use.
type Limiter struct {
	cfg        Config
	interval   int64 // emission interval T = ceil(1e9/Rate), ns
	credit     int64 // Burst*T, ns
	kiss       int64 // KissInterval, ns; negative: never kiss
	seed       uint64
	setMask    uint64
	stripeMask uint64
	table      []entry // nil when disabled
	stripes    []stripe
}

// New returns a Limiter for cfg, or an error naming the first bad field.
func New(cfg Config) (*Limiter, error) {
	return newSeeded(cfg, rand.Uint64())
}

func newSeeded(cfg Config, seed uint64) (*Limiter, error) {
	if math.IsNaN(cfg.Rate) || math.IsInf(cfg.Rate, 0) || cfg.Rate < 0 {
		return nil, fmt.Errorf("rate limit: rate %v: must be a finite number >= 0", cfg.Rate)
	}
	if cfg.Entries < 0 || cfg.Entries > MaxEntries {
		return nil, fmt.Errorf("rate limit: entries %d: must be between 0 (default %d) and %d", cfg.Entries, DefaultEntries, MaxEntries)
	}
	if cfg.Burst < 0 {
		return nil, fmt.Errorf("rate limit: burst %d: must be >= 1", cfg.Burst)
	}
	l := &Limiter{cfg: cfg, seed: seed}
	if cfg.Rate == 0 {
		l.cfg.Entries = 0
		l.stripes = make([]stripe, stripeCount(math.MaxInt))
		l.stripeMask = uint64(len(l.stripes) - 1)
		return l, nil
	}
	if cfg.Burst < 1 {
		return nil, fmt.Errorf("rate limit: burst %d: must be >= 1", cfg.Burst)
	}
	if cfg.KissInterval == 0 {
		return nil, errors.New("rate limit: kiss interval 0: must be > 0 (or negative to never send a KoD)")
	}
	t := math.Ceil(1e9 / cfg.Rate)
	if cfg.Rate > 1e9 {
		return nil, fmt.Errorf("rate limit: rate %v: must be at most 1e9 per second", cfg.Rate)
	}
	if t*float64(cfg.Burst) > maxCredit {
		return nil, fmt.Errorf("rate limit: rate %v with burst %d: burst/rate must be below %.0f years", cfg.Rate, cfg.Burst, maxCredit/1e9/86400/365.25)
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
	l.table = make([]entry, n)
	sets := n / Ways
	l.setMask = uint64(sets - 1)
	l.stripes = make([]stripe, stripeCount(sets))
	l.stripeMask = uint64(len(l.stripes) - 1)
	return l, nil
}

// stripeCount is a power of two of about four locks per CPU, between 8 and
// 1024, and at most sets.
func stripeCount(sets int) int {
	n := min(max(nextPow2(4*runtime.GOMAXPROCS(0)), 8), 1024)
	return min(n, sets)
}

func nextPow2(n int) int {
	p := 1
	for p < n {
		p <<= 1
	}
	return p
}

// Config returns the configuration in force, with Entries as allocated.
func (l *Limiter) Config() Config { return l.cfg }

// Allow records one request from the source with the given key at time now
// and says what to do with it. key is a hash of the source address (see
// AddrKey); now is in nanoseconds on any clock that mostly goes forward: a
// step backwards counts as no time passing for the sources it touches, and
// times beyond ±2^62 ns (146 years) are taken as that bound.
// Allow neither allocates nor blocks beyond one short per-stripe lock.
func (l *Limiter) Allow(key uint64, now int64) Decision {
	if key == 0 {
		key = zeroKey
	}
	now = min(max(now, -timeLimit), timeLimit)
	h := mix(key ^ l.seed)
	st := &l.stripes[h&l.stripeMask]
	if l.table == nil {
		st.answered.Add(1)
		return Answer
	}
	base := (h & l.setMask) * Ways
	set := (*[Ways]entry)(l.table[base : base+Ways])

	st.mu.Lock()
	e := l.slot(set, key, now, st)
	d := l.decide(e, now)
	st.mu.Unlock()

	switch d {
	case Answer:
		st.answered.Add(1)
	case Kiss:
		st.kissed.Add(1)
	default:
		st.dropped.Add(1)
	}
	return d
}

// slot returns key's entry in set, claiming an empty or replaced slot for a
// new source. The caller holds the set's stripe lock.
func (l *Limiter) slot(set *[Ways]entry, key uint64, now int64, st *stripe) *entry {
	for i := range set {
		if set[i].key == key {
			return &set[i]
		}
	}
	var victim *entry
	for i := range set {
		e := &set[i]
		if e.key == 0 {
			st.inUse.Add(1)
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
	if victim.key != 0 && victim.tat > now {
		st.evictions.Add(1)
	}
	*victim = entry{key: key, tat: now, kissAt: never, seen: now}
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

// Stats returns the counters. They are read without stopping Allow, so a
// snapshot taken under load may be a few requests out of step between fields.
func (l *Limiter) Stats() Stats {
	s := Stats{Entries: len(l.table)}
	for i := range l.stripes {
		st := &l.stripes[i]
		s.InUse += int(st.inUse.Load())
		s.Evictions += st.evictions.Load()
		s.Answered += st.answered.Load()
		s.Kissed += st.kissed.Load()
		s.Dropped += st.dropped.Load()
	}
	return s
}

// MemoryBytes returns the size of the limiter's table and locks. It is
// fixed when the Limiter is made and does not grow with the number of
// sources.
func (l *Limiter) MemoryBytes() int {
	return len(l.table)*int(unsafe.Sizeof(entry{})) + len(l.stripes)*int(unsafe.Sizeof(stripe{}))
}

// mix is the SplitMix64 finaliser, a bijection of uint64 that spreads every
// input bit over the output.
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
