// Package ratelimit limits the request rate of each source address of an NTP
// server, and of each IPv6 prefix, in a table of fixed size, and says for
// each request whether to answer it, answer it with a RATE Kiss-o'-Death
// (KoD), or drop it.
//
// # Algorithm
//
// Each source is limited by the generic cell rate algorithm (GCRA), the
// token bucket written with one time value instead of a token count. With an
// emission interval T = 1/Rate (rounded up to a whole nanosecond) and a
// credit of Burst*T, a source's entry holds its theoretical arrival time
// TAT. A request at time now is answered when
//
//	max(TAT, now) + T - now <= Burst*T
//
// and TAT then becomes max(TAT, now) + T. So a source that has been quiet
// may send Burst requests at once, and after that one every T; a source that
// keeps exactly to the rate is always answered. All of it is integer
// nanoseconds; times are clamped to ±2^62 ns and sums saturate, so no input
// can overflow.
//
// A request over the limit gets a Kiss when the source has had no KoD for
// KissInterval, and is dropped otherwise. Over any span of time W in which
// its entry stays in the table, one source is sent at most Burst + W/T
// answers and 1 + W/KissInterval KoDs; with the default KissInterval (equal
// to T) that is Burst + 1 + 2W/T replies however fast it sends, each no
// larger than its request.
//
// The caller supplies the time. If it goes backwards, the entries it touches
// are shifted back with it: no time passes for them, and they neither gain
// nor lose credit. A jump forwards is time passed: one of Burst*T or more
// gives every source its full burst.
//
// # Sources
//
// An IPv4 address is one source, limited at Rate and Burst. An IPv4-mapped
// IPv6 address (from a dual-stack socket) is its IPv4 address.
//
// An IPv6 address is limited twice: on its own, at Rate and Burst as an
// IPv4 address, and as part of its prefix, a /64 by default
// (Config.IPv6Prefix), at IPv6PrefixShare (8 by default) times that rate and
// that burst, shared by all the addresses of the prefix. A subscriber gets
// at least a /64 where it gets one IPv4 address: limited per address alone,
// one host could claim a fresh burst from each of 2^64 addresses; limited
// per prefix alone, one host of a network could spend the allowance of all
// its neighbours. A request is answered only when both its address and its
// prefix have allowance, and then spends from both.
//
// A refused request spends nothing, from its address or its prefix. So an
// address over its own limit does not use up its prefix's allowance: one
// address alone takes at most its own allowance, 1/IPv6PrefixShare of its
// prefix's, and leaves the rest to its neighbours, however fast it sends;
// and a request refused because its prefix is spent does not count against
// its address. A refused request gets a KoD only when neither its address
// nor its prefix has had one for KissInterval. Over a span W in which its
// entries stay in the table, an IPv6 prefix as a whole is sent at most
// IPv6PrefixShare*(Burst + W/T) answers and 1 + W/KissInterval KoDs, and
// each of its addresses the bounds of any source above.
//
// The address's entry is made only when a request of it gets a reply (an
// answer or a KoD): a flood from fresh addresses of a prefix that has spent
// its allowance makes no entries, and churns the table no faster than the
// prefix is sent replies. With IPv6Prefix 128, IPv6 addresses are limited on
// their own only.
//
// Each entry stores its source's 128 bits and prefix length, and a request
// only ever matches an entry of its own source: no address can spend
// another's allowance without spoofing it (see key.go for the keyed hash,
// and the decision it reverses).
//
// # Memory
//
// The table is an array of Entries slots of 48 bytes (source, TAT, time of
// the last KoD, time last seen), grouped in sets of Ways (4) slots behind a
// 64-byte header holding the set's lock and counters. It is allocated once
// by New and never grown: MemoryBytes is 64*Entries, 4 MiB with the default
// 65536 entries. An IPv4 address takes one entry; an IPv6 address two, its
// own and its prefix's, which its prefix's addresses share. A keyed hash of
// the source with a secret random seed drawn by New picks one set, and the
// source can live only in that set's four slots.
//
// Allow locks only that set (for an IPv6 address, the sets of the address
// and of its prefix, in the order of the table, so that the decision and
// what it spends are one step), so goroutines serving different sockets
// (and so, mostly, different sources) neither wait for one another nor
// share cache lines; it does not allocate. There is no global lock.
//
// # Eviction, and what an attacker can do
//
// When a new source arrives at a full set, the entry that restricts its
// source least is replaced: the one with the earliest TAT. An entry whose
// source has its full burst available (TAT not after now) carries no
// information and is reused silently; replacing any other counts as an
// eviction (Stats.Evictions). Stats.Inserted counts the new sources; both
// are exported as metrics, and sustained evictions mean the table is too
// small for the sources it sees (docs/operations.md says how to size it).
//
// The limiter fails open for real clients. An attacker who sends from many
// spoofed addresses (or from many prefixes of its own) fills the table with
// new entries and can evict the entry of another source, which then starts
// again with a full burst; each new source also gets its own burst. Entries
// that have spent the most credit, the heaviest senders, are evicted last: a
// limited source is forgotten only when the other Ways-1 sources of its set
// have spent more credit than it and yet another new source arrives there.
// As the choice of set is a keyed hash with a secret seed, an attacker
// cannot aim at one set and must churn the whole table, sending several
// requests from each of a table's worth of sources. Per-source limiting
// therefore bounds what each source gets, not the server's total output: a
// global limit, if wanted, belongs in front of it. (Refusing new sources
// instead, when every entry of their set is limited, would let a spoofing
// attacker lock every new client out for a few thousand packets a second.)
//
// An attacker who spoofs one victim's address can use up that address's
// credit, so that the server answers the victim's own requests with KoDs or
// not at all for as long as the spoofing lasts (ntpd's "limited" behaves the
// same; chrony's "leak" option answers a random fraction instead).
//
// # Defaults
//
// DefaultConfig follows chrony's ratelimit directive and ntpd's discard
// command: one request per 8 s on average (chrony "interval 3", ntpd
// "average 3"), a burst of 8 (chrony's default, enough for the quick
// requests of a client's iburst on start), at most one KoD per source per
// 8 s (ntpd sends at most one per guard time, 2 s by default; one per T
// keeps the replies to any address within twice the allowed rate),
// 65536 entries, and IPv6 addresses limited per /64 as well, a /64 at
// eight times an address's rate and burst.
//
// Eight, because a /64 is one subscriber's network, and a network has
// several hosts, each with addresses of its own (behind an IPv4 NAT the same
// hosts share one address and its one allowance). With eight, eight hosts of
// a network can start at once with a full burst each (iburst), and at the
// default rate the prefix is allowed one request a second, as much as
// sixty-four hosts polling every 64 s (the shortest poll of most clients);
// yet one address that floods takes an eighth of its prefix's allowance and
// no more, and a whole /64 gets as much as eight addresses, where limited
// per address alone it could claim 2^64 bursts. A /64 shared by many
// unrelated hosts (a hosting provider's) wants a larger share, or
// IPv6Prefix 128.
package ratelimit
