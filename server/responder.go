// Package server answers NTP client requests with smeared time: the reply
// logic (Responder), batched UDP sockets with kernel receive timestamps, one
// socket per core, and the counters the admin endpoints read.
package server

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/ntp"
	"github.com/leapsmear/leapsmear/nts"
	"github.com/leapsmear/leapsmear/ratelimit"
	"github.com/leapsmear/leapsmear/smear"
	"github.com/leapsmear/leapsmear/timescale"
)

// Verdict is what became of one received packet.
type Verdict uint8

// Verdicts. Everything from DropShort on is a packet left unanswered.
const (
	Answered            Verdict = iota // a reply was built
	Kissed                             // a RATE Kiss-o'-Death was built instead of a reply
	AnsweredNTS                        // an NTS-authenticated reply was built (SealNTS completes it)
	NAKCookie                          // an NTS NAK: the cookie did not decrypt under any key of the ring
	NAKAuth                            // an NTS NAK: the cookie decrypted, the authenticator did not verify
	DropShort                          // shorter than the 48-byte header
	DropVersion                        // version 0 or above 4
	DropMode                           // not a client request (mode 3); includes modes 6 and 7
	DropMalformed                      // extension fields or MAC with broken lengths (NTS fields too), or truncated
	DropRateLimited                    // over the client's rate, and no KoD owed
	DropSource                         // from a source that cannot be answered safely (see Answerable)
	DropUnauthenticated                // not NTS-authenticated while NTS is required
	numVerdicts
)

var verdictNames = [numVerdicts]string{"answered", "kod", "answered_nts", "nts_nak_cookie", "nts_nak_auth",
	"short", "bad_version", "bad_mode", "malformed", "rate_limited", "bad_source", "unauthenticated"}

// String names the verdict as the metrics label does.
func (v Verdict) String() string {
	if v >= numVerdicts {
		return "unknown"
	}
	return verdictNames[v]
}

// DropReasons returns the verdicts that leave a packet unanswered.
func DropReasons() []Verdict {
	out := make([]Verdict, 0, numVerdicts-DropShort)
	for v := DropShort; v < numVerdicts; v++ {
		out = append(out, v)
	}
	return out
}

// Settings are the fixed fields of every reply.
type Settings struct {
	// Stratum announced while synchronised (default 2).
	Stratum uint8
	// RefID is the reference ID announced.
	RefID uint32
	// Precision is log2 of the clock's precision in seconds.
	Precision int8
	// RootDelay and RootDispersion announced.
	RootDelay, RootDispersion time.Duration
}

// Clock is what the server needs of a time source (timescale.Source has
// it): the current instant on the continuous scale, and whether the host
// clock is synchronised.
type Clock interface {
	// Now reads the clock; it must not allocate or block.
	Now() timescale.Reading
	// Synced reports whether the time is fit to serve.
	Synced() bool
}

// Responder builds replies. Its smear can be replaced at any time (a reloaded
// leap table); it is safe for concurrent use by every socket.
type Responder struct {
	smear    atomic.Pointer[smear.Smear]
	nts      atomic.Pointer[ntsConfig]
	clock    Clock
	settings Settings
	rootDly  ntp.Short
	rootDsp  atomic.Uint32 // ntp.Short; follows the host clock's error (SetRootDispersion)
	limiter  Limiter
}

// Limiter decides whether a client may be answered (ratelimit.Limiter). Allow
// is called once per request with the source address (an IPv4 client of a
// dual-stack socket comes IPv4-mapped) and the time in nanoseconds on the continuous scale; it must
// not allocate.
type Limiter interface {
	Allow(src netip.Addr, now ratelimit.Instant) ratelimit.Decision
}

// NewResponder returns a responder serving time from clock smeared by s. A
// nil limiter answers everyone.
func NewResponder(clock Clock, s *smear.Smear, set Settings, limiter Limiter) *Responder {
	r := &Responder{clock: clock, settings: set, limiter: limiter,
		rootDly: ntp.ShortFromDuration(set.RootDelay)}
	r.SetRootDispersion(set.RootDispersion)
	r.smear.Store(s)
	return r
}

// SetRootDispersion sets the root dispersion announced from now on (the
// daemon follows the host clock's error estimate with it).
func (r *Responder) SetRootDispersion(d time.Duration) {
	r.rootDsp.Store(uint32(ntp.ShortFromDuration(d)))
}

// SetSmear replaces the smear (after a leap table reload).
func (r *Responder) SetSmear(s *smear.Smear) { r.smear.Store(s) }

// Smear returns the smear in use.
func (r *Responder) Smear() *smear.Smear { return r.smear.Load() }

// Settings returns the fixed reply fields.
func (r *Responder) Settings() Settings { return r.settings }

// Batch is what the requests of one batch are answered with: the smear in
// use and the clock, read once for the whole batch by Begin.
type Batch struct {
	Smear  *smear.Smear
	Now    timescale.Reading
	Synced bool
}

// Begin reads the clock and loads the smear for a batch of requests.
func (r *Responder) Begin() Batch {
	return Batch{Smear: r.smear.Load(), Now: r.clock.Now(), Synced: r.clock.Synced()}
}

// ntsConfig is NTS in a responder.
type ntsConfig struct {
	srv     *nts.Server
	require bool
}

// SetNTS turns on NTS: requests with NTS extension fields are verified by
// srv and answered with authenticated replies, or an NTS NAK. With require,
// requests that are not NTS-authenticated are dropped (DropUnauthenticated).
// A nil srv turns NTS off.
func (r *Responder) SetNTS(srv *nts.Server, require bool) {
	if srv == nil {
		r.nts.Store(nil)
		return
	}
	r.nts.Store(&ntsConfig{srv: srv, require: require})
}

// NTS returns the NTS server in use (nil when off) and whether NTS is
// required.
func (r *Responder) NTS() (*nts.Server, bool) {
	if c := r.nts.Load(); c != nil {
		return c.srv, c.require
	}
	return nil, false
}

// NTSSlot is the NTS working memory of one request in flight, owned by the
// caller: one per batch slot, the slots of one goroutine sharing one scratch
// (NewNTSSlots). Reused for every request, it makes NTS allocation-free.
type NTSSlot struct {
	scratch *nts.Scratch
	req     nts.Request
}

// NewNTSSlots returns n slots sharing one scratch, for one goroutine.
func NewNTSSlots(n int) []NTSSlot {
	sc := nts.NewScratch()
	out := make([]NTSSlot, n)
	for i := range out {
		out[i].scratch = sc
	}
	return out
}

// Request is one datagram to answer.
type Request struct {
	// Data is the datagram as received.
	Data []byte
	// Rx is the kernel's receive timestamp (SO_TIMESTAMPNS), 0 when the
	// kernel gave none; it is mapped to the continuous scale through the
	// batch's reading.
	Rx timescale.Realtime
	// Source is the client's address and port.
	Source netip.AddrPort
	// NTS is the request's NTS working memory; without it an NTS request is
	// answered as plain NTP (or dropped when NTS is required).
	NTS *NTSSlot
}

// Respond is the reply function: it builds in resp the reply to req as of
// the batch b, and returns the reply's length (0 when the request is
// dropped) and the verdict. It reads no clock and touches no socket: time
// comes from b, so that the same request and batch give the same reply. The
// transmit timestamp is left for StampTransmit, as late as possible before
// sending. resp must hold at least ntp.HeaderLen bytes; the reply is never
// longer than the request. It allocates nothing.
func (r *Responder) Respond(b *Batch, req Request, resp []byte) (int, Verdict) {
	if !Answerable(req.Source) {
		return 0, DropSource
	}
	data := req.Data
	if len(data) < ntp.HeaderLen {
		return 0, DropShort
	}
	var h ntp.Header
	if err := h.Decode(data); err != nil {
		return 0, DropShort
	}
	if h.Version == 0 || h.Version > ntp.Version4 {
		return 0, DropVersion
	}
	if h.Mode != ntp.ModeClient {
		return 0, DropMode
	}
	extensions := 0
	if len(data) > ntp.HeaderLen {
		// Trailer walks what follows the header of the whole packet (and
		// reads the version from its first byte).
		var err error
		if extensions, _, err = ntp.Trailer(data); err != nil {
			return 0, DropMalformed
		}
	}
	ntsc := r.nts.Load()
	if ntsc != nil && ntsc.require && (extensions == 0 || req.NTS == nil) {
		return 0, DropUnauthenticated
	}
	verdict := Answered
	if r.limiter != nil {
		switch r.limiter.Allow(req.Source.Addr(), ratelimit.Instant(b.Now.TAI)) {
		case ratelimit.Kiss:
			verdict = Kissed
		case ratelimit.Drop:
			return 0, DropRateLimited
		}
	}
	origin := h.Transmit
	if verdict == Kissed {
		// A RATE kiss carries no time: every timestamp echoes the client's.
		h = ntp.Header{Leap: ntp.LeapUnsynchronised, Version: h.Version, Mode: ntp.ModeServer, Stratum: 0,
			Poll: max(h.Poll, 6), Precision: r.settings.Precision, ReferenceID: ntp.KissRATE,
			Origin: origin, Receive: origin, Transmit: origin}
		_ = h.Encode(resp)
		return ntp.HeaderLen, Kissed
	}
	authenticated := false
	if ntsc != nil && extensions > 0 && req.NTS != nil {
		switch err := ntsc.srv.Verify(req.NTS.scratch, data, &req.NTS.req); err {
		case nil:
			authenticated = true
		case nts.ErrNotNTS:
			if ntsc.require {
				return 0, DropUnauthenticated
			}
		case nts.ErrCookie, nts.ErrAuth:
			// An NTS NAK: a kiss-o'-death NTSN echoing the Unique
			// Identifier, so that the client does NTS-KE again.
			h = ntp.Header{Leap: ntp.LeapUnsynchronised, Version: h.Version, Mode: ntp.ModeServer, Stratum: 0,
				Poll: h.Poll, Precision: r.settings.Precision, ReferenceID: ntp.KissNTSN,
				Origin: origin, Receive: origin, Transmit: origin}
			_ = h.Encode(resp)
			n := ntsc.srv.NAK(data, resp, &req.NTS.req)
			if n == 0 {
				return 0, DropMalformed
			}
			if err == nts.ErrCookie {
				return n, NAKCookie
			}
			return n, NAKAuth
		default:
			return 0, DropMalformed
		}
	}
	rxTAI := b.Now.TAI
	if req.Rx != 0 {
		rxTAI = b.Now.FromRealtime(req.Rx)
	}
	received := b.Smear.Served(rxTAI)
	li, stratum := uint8(b.Smear.LI(rxTAI)), r.settings.Stratum
	if !b.Synced {
		li, stratum = ntp.LeapUnsynchronised, ntp.StratumUnsynchronised
	}
	h = ntp.Header{Leap: li, Version: h.Version, Mode: ntp.ModeServer, Stratum: stratum,
		Poll: h.Poll, Precision: r.settings.Precision, RootDelay: r.rootDly, RootDispersion: ntp.Short(r.rootDsp.Load()),
		ReferenceID: r.settings.RefID,
		// The clock is disciplined continuously; name the start of the
		// current 16 s as the last update, never later than the receive time.
		Reference: ntp.TimestampFromUnixNano(int64(received - received%smear.Time(16*leap.Second))),
		Origin:    origin,
		Receive:   ntp.TimestampFromUnixNano(int64(received))}
	_ = h.Encode(resp)
	if authenticated {
		if len(resp) < len(data) {
			return 0, DropMalformed
		}
		return len(data), AnsweredNTS
	}
	return ntp.HeaderLen, Answered
}

// Answerable reports whether a request from src may be answered: never from
// port 0, an unspecified address (0.0.0.0, ::), a multicast or the limited
// broadcast address (255.255.255.255). No host sends from those; a request
// that claims to is forged, and a reply could only feed a reflection attack
// or a loop.
func Answerable(src netip.AddrPort) bool {
	if src.Port() == 0 {
		return false // also the zero AddrPort
	}
	a := src.Addr()
	if a.Is4() {
		b := a.As4()
		// 0.0.0.0/8 is "this network" (0.0.0.0 unspecified), 224.0.0.0/4
		// multicast; 255.255.255.255 is the limited broadcast.
		return b[0] != 0 && b[0]&0xf0 != 0xe0 && b != [4]byte{255, 255, 255, 255}
	}
	return a.IsValid() && !a.IsUnspecified() && !a.IsMulticast()
}

// SealNTS completes a reply that Respond built with verdict AnsweredNTS: it
// reads the clock for the transmit timestamp, writes it, and seals the NTS
// fields over the whole header. It returns the reply's length, 0 if it
// cannot be sealed (then drop it). Call it instead of StampTransmit, as late
// as possible before sending; it allocates nothing.
func (r *Responder) SealNTS(b *Batch, req Request, resp []byte) int {
	c := r.nts.Load()
	if c == nil || req.NTS == nil {
		return 0
	}
	StampTransmit(resp, r.TransmitTime(b))
	n, err := c.srv.Reply(req.NTS.scratch, req.Data, resp, &req.NTS.req)
	if err != nil {
		return 0
	}
	return n
}

// TransmitTime reads the clock again for the transmit timestamps of a batch,
// as late as possible before the replies are sent.
func (r *Responder) TransmitTime(b *Batch) ntp.Timestamp {
	return ntp.TimestampFromUnixNano(int64(b.Smear.Served(r.clock.Now().TAI)))
}

// StampTransmit writes the transmit timestamp into a reply built by Respond.
// Kiss-o'-Death replies (stratum 0) keep the client's timestamp.
func StampTransmit(resp []byte, ts ntp.Timestamp) {
	if resp[1] != 0 {
		binary.BigEndian.PutUint64(resp[40:ntp.HeaderLen], uint64(ts))
	}
}
