// Package server answers NTP client requests with smeared time: the reply
// logic (Responder), batched UDP sockets with kernel receive timestamps, one
// socket per core, and the counters the admin endpoints read.
package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
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
	AnsweredV5UTC                      // an NTPv5 reply in UTC (stepping, the leap announced)
	AnsweredV5TAI                      // an NTPv5 reply in TAI
	AnsweredV5Smeared                  // an NTPv5 reply in leap-smeared UTC
	DropShort                          // shorter than the 48-byte header
	DropVersion                        // version 0 or above 5, or NTPv5 of another draft (or none named)
	DropMode                           // not a client request (mode 3); includes modes 6 and 7
	DropMalformed                      // extension fields or MAC with broken lengths (NTS fields too), or truncated
	DropRateLimited                    // over the client's rate, and no KoD owed
	DropSource                         // from a source that cannot be answered safely (see Answerable, Broadcasts)
	DropUnauthenticated                // not NTS-authenticated while NTS is required
	numVerdicts
)

var verdictNames = [numVerdicts]string{"answered", "kod", "answered_nts", "nts_nak_cookie", "nts_nak_auth",
	"answered_v5_utc", "answered_v5_tai", "answered_v5_smeared", "short", "bad_version", "bad_mode", "malformed", "rate_limited", "bad_source", "unauthenticated"}

// String names the verdict as the metrics label does.
func (v Verdict) String() string {
	if v >= numVerdicts {
		return "unknown"
	}
	return verdictNames[v]
}

// AllVerdicts returns every verdict, in order.
func AllVerdicts() []Verdict {
	out := make([]Verdict, numVerdicts)
	for v := range out {
		out[v] = Verdict(v)
	}
	return out
}

// DropReasons returns the verdicts that leave a packet unanswered.
func DropReasons() []Verdict {
	out := make([]Verdict, 0, numVerdicts-DropShort)
	for v := DropShort; v < numVerdicts; v++ {
		out = append(out, v)
	}
	return out
}

// V5Verdicts returns the verdicts of NTPv5 replies with time, one per
// timescale served.
func V5Verdicts() []Verdict { return []Verdict{AnsweredV5UTC, AnsweredV5TAI, AnsweredV5Smeared} }

// Timescale returns the NTPv5 timescale a V5 verdict served.
func (v Verdict) Timescale() (ntp.Timescale, bool) {
	switch v {
	case AnsweredV5UTC:
		return ntp.TimescaleUTC, true
	case AnsweredV5TAI:
		return ntp.TimescaleTAI, true
	case AnsweredV5Smeared:
		return ntp.TimescaleSmeared, true
	}
	return 0, false
}

// RefIDSmear says whether a smearing listener's NTPv4 replies declare the
// smear in their reference ID, and how (see the ntp package's leap-smear
// reference IDs).
type RefIDSmear uint8

// Reference ID conventions for a smear.
const (
	// RefIDSmearOff: the configured reference ID, always.
	RefIDSmearOff RefIDSmear = iota
	// RefIDSmearDraft: draft-stenn-ntp-leap-smear-refid, 254.x.y.z with the
	// current offset (ntp.RefIDFromSmear), while the offset is not zero.
	RefIDSmearDraft
	// RefIDSmearChrony: chrony's 127.127.1.255 while the offset is not zero.
	RefIDSmearChrony
)

var refIDSmearNames = [...]string{"off", "draft", "chrony"}

// String names the convention as ParseRefIDSmear reads it.
func (m RefIDSmear) String() string {
	if int(m) < len(refIDSmearNames) {
		return refIDSmearNames[m]
	}
	return "unknown"
}

// ParseRefIDSmear reads "off" (or ""), "draft" or "chrony".
func ParseRefIDSmear(s string) (RefIDSmear, error) {
	if s == "" {
		return RefIDSmearOff, nil
	}
	for i, n := range refIDSmearNames {
		if s == n {
			return RefIDSmear(i), nil
		}
	}
	return 0, errors.New("want off, draft (254.x.y.z with the offset, draft-stenn-ntp-leap-smear-refid) or chrony (127.127.1.255)")
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
	// RefIDSmear makes a smearing listener's NTPv4 replies declare the smear
	// in the reference ID while the smear offset is not zero (and the clock
	// synchronised); RefIDSmearOff (the zero value) never does.
	RefIDSmear RefIDSmear
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

// Responder builds the replies of one listener. Its smears can be replaced
// at any time (a reloaded leap table); it is safe for concurrent use by every
// socket. The listeners of one server may share a clock and a limiter, each
// with its own Responder and policy.
type Responder struct {
	smears   atomic.Pointer[smearSet]
	nts      atomic.Pointer[ntsConfig]
	clock    Clock
	settings Settings
	rootDly  ntp.Short
	rootDsp  atomic.Uint32 // ntp.Short; follows the host clock's error (SetRootDispersion)
	rootDly5 ntp.Time32
	rootDsp5 atomic.Uint32 // ntp.Time32, for NTPv5
	limiter  Limiter
	bcast    atomic.Pointer[Broadcasts] // the host's directed broadcasts (SetBroadcasts)
}

// Smears are the smears a listener serves from: one leap table applied by
// the listener's policy and by the step policy, and the NTPv5 smear.
type Smears struct {
	// Policy is the listener's own: the time NTPv3 and NTPv4 clients get.
	Policy *smear.Smear
	// UTC is the step policy on the same table: NTPv5's UTC, which steps
	// and announces the leap.
	UTC *smear.Smear
	// Smeared is NTPv5's leap-smeared UTC; nil when the listener offers
	// none (a stepping listener without an NTPv5 smear policy), and requests
	// for it are answered in UTC, the reply saying so.
	Smeared *smear.Smear
}

// NewSmears applies the policies to one leap table: policy for NTPv3 and
// NTPv4, the step policy for NTPv5 UTC, and v5 for NTPv5 leap-smeared UTC
// (nil: policy when it smears, else none).
func NewSmears(t *leap.Table, policy smear.Policy, v5 *smear.Policy) (Smears, error) {
	var out Smears
	var err error
	if out.Policy, err = smear.New(t, policy); err != nil {
		return Smears{}, err
	}
	if out.UTC, err = stepOf(t, policy, out.Policy); err != nil {
		return Smears{}, err
	}
	switch {
	case v5 != nil && v5.Shape == smear.Step:
		// A step is not a smear: no leap-smeared timescale.
	case v5 != nil:
		if out.Smeared, err = smear.New(t, *v5); err != nil {
			return Smears{}, fmt.Errorf("NTPv5 smear policy: %w", err)
		}
	case policy.Shape != smear.Step:
		out.Smeared = out.Policy
	}
	return out, nil
}

// stepOf returns the step policy applied to t, reusing s when it is one.
func stepOf(t *leap.Table, p smear.Policy, s *smear.Smear) (*smear.Smear, error) {
	if p.Shape == smear.Step {
		return s, nil
	}
	step, err := smear.Parse("step")
	if err != nil {
		return nil, err
	}
	return smear.New(t, step)
}

// smearSet is a Smears with what the served path needs precomputed: the
// smear declaration (ntp.SmearInfo) the listener sends while each window of
// its policy is the next one, and after the last.
type smearSet struct {
	Smears
	infoEnds []leap.TAI // the End of each window of Policy
	info     [][]byte   // the declaration while window i is the first not ended
	infoNone []byte     // the declaration once every window has ended
}

// infoToken writes a label as one token of the declaration (a rehearsal's
// repeated second reads "13:42:34Z (repeated)": no spaces in a value).
func infoToken(l leap.Label) string { return strings.ReplaceAll(l.String(), " ", "") }

func newSmearSet(s Smears) *smearSet {
	set := &smearSet{Smears: s}
	p := s.Policy.Policy()
	base := ntp.SmearInfo{Policy: p.Name, Window: p.Spec(1)}
	set.infoNone = base.AppendText(nil)
	t := s.Policy.Table()
	for _, w := range s.Policy.Windows() {
		i := base
		e := w.Event
		i.Leap = infoToken(leap.Label{Time: e.Effective.Add(-time.Second).UTC(), Leap: e.Delta > 0})
		i.Delta, i.Synthetic = e.Delta, e.Synthetic
		i.Opens, i.Closes = infoToken(t.LabelFromTAI(w.Start)), infoToken(t.LabelFromTAI(w.End))
		set.infoEnds = append(set.infoEnds, w.End)
		set.info = append(set.info, i.AppendText(nil))
	}
	return set
}

// infoAt returns the declaration at x.
func (set *smearSet) infoAt(x leap.TAI) []byte {
	for i, end := range set.infoEnds {
		if end > x {
			return set.info[i]
		}
	}
	return set.infoNone
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
// NTPv5 replies follow the smears SmearsOf(s) gives; NewResponderSmears
// takes them explicitly.
func NewResponder(clock Clock, s *smear.Smear, set Settings, limiter Limiter) *Responder {
	return NewResponderSmears(clock, SmearsOf(s), set, limiter)
}

// NewResponderSmears returns a responder serving time from clock by the
// smears s.
func NewResponderSmears(clock Clock, s Smears, set Settings, limiter Limiter) *Responder {
	r := &Responder{clock: clock, settings: set, limiter: limiter,
		rootDly: ntp.ShortFromDuration(set.RootDelay), rootDly5: ntp.Time32FromDuration(set.RootDelay)}
	r.SetRootDispersion(set.RootDispersion)
	r.SetSmears(s)
	return r
}

// SetBroadcasts sets the directed broadcast addresses whose requests are
// dropped as DropSource (with those Answerable refuses everywhere), from the
// next batch on: the host's own, which a Server sets on its responders when
// it starts and on RefreshBroadcasts. nil (as at first) is none.
func (r *Responder) SetBroadcasts(bs *Broadcasts) { r.bcast.Store(bs) }

// Broadcasts returns the directed broadcast addresses refused (nil: none).
func (r *Responder) Broadcasts() *Broadcasts { return r.bcast.Load() }

// SetRootDispersion sets the root dispersion announced from now on (the
// daemon follows the host clock's error estimate with it).
func (r *Responder) SetRootDispersion(d time.Duration) {
	r.rootDsp.Store(uint32(ntp.ShortFromDuration(d)))
	r.rootDsp5.Store(uint32(ntp.Time32FromDuration(d)))
}

// SmearsOf returns the smears of a listener serving s: s itself, the step
// policy on its table for NTPv5 UTC, and s again for NTPv5 leap-smeared UTC
// when it smears.
func SmearsOf(s *smear.Smear) Smears {
	out := Smears{Policy: s, UTC: s}
	if s.Policy().Shape != smear.Step {
		out.Smeared = s
		// The step policy places no window and cannot fail.
		out.UTC, _ = stepOf(s.Table(), s.Policy(), s)
	}
	return out
}

// SetSmear replaces the smear (after a leap table reload) with SmearsOf(s).
func (r *Responder) SetSmear(s *smear.Smear) { r.SetSmears(SmearsOf(s)) }

// SetSmears replaces the smears (after a leap table reload).
func (r *Responder) SetSmears(s Smears) { r.smears.Store(newSmearSet(s)) }

// Smear returns the listener's smear in use.
func (r *Responder) Smear() *smear.Smear { return r.smears.Load().Policy }

// Smears returns the smears in use.
func (r *Responder) Smears() Smears { return r.smears.Load().Smears }

// Settings returns the fixed reply fields.
func (r *Responder) Settings() Settings { return r.settings }

// Batch is what the requests of one batch are answered with: the smears in
// use and the clock, read once for the whole batch by Begin.
type Batch struct {
	// Smear is the listener's policy; UTC and Smeared are NTPv5's UTC and
	// leap-smeared UTC (Smeared nil when not offered).
	Smear, UTC, Smeared *smear.Smear
	Now                 timescale.Reading
	Synced              bool
	set                 *smearSet
	bcast               *Broadcasts // the responder's, as Begin found them
}

// Begin reads the clock and loads the smears for a batch of requests.
func (r *Responder) Begin() Batch {
	set := r.smears.Load()
	return Batch{Smear: set.Policy, UTC: set.UTC, Smeared: set.Smeared, Now: r.clock.Now(), Synced: r.clock.Synced(),
		set: set, bcast: r.bcast.Load()}
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
// transmit timestamp is left for StampReply, as late as possible before
// sending. resp must hold at least ntp.HeaderLen bytes (an NTPv5 reply is
// as long as its request); the reply is never longer than the request. It
// allocates nothing.
//
// NTPv3 and NTPv4 requests get the listener's time (b.Smear). An NTPv4
// request may also carry leapsmear's ExtSmearInfo field, answered with the
// listener's declaration, and the NTPv5 upgrade magic in its reference
// timestamp, echoed. NTPv5 requests (draft-ietf-ntp-ntpv5-09, see
// respondV5) get the timescale they ask for.
func (r *Responder) Respond(b *Batch, req Request, resp []byte) (int, Verdict) {
	if !b.bcast.Answerable(req.Source) {
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
	if h.Version == ntp.Version5 {
		return r.respondV5(b, req, resp)
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
	upgrade := h.Reference == ntp.UpgradeMagic
	rxTAI := b.rxTAI(req.Rx)
	received := b.Smear.Served(rxTAI)
	li, stratum, refid := uint8(b.Smear.LI(rxTAI)), r.settings.Stratum, r.settings.RefID
	if !b.Synced {
		li, stratum = ntp.LeapUnsynchronised, ntp.StratumUnsynchronised
	} else if r.settings.RefIDSmear != RefIDSmearOff {
		if off := time.Duration(int64(received) - int64(b.Smear.Table().UnixFromTAI(rxTAI))); off != 0 {
			refid = ntp.RefIDChronySmooth
			if r.settings.RefIDSmear == RefIDSmearDraft {
				refid = ntp.RefIDFromSmear(off)
			}
		}
	}
	// The clock is disciplined continuously; name the start of the current
	// 16 s as the last update, never later than the receive time.
	reference := ntp.TimestampFromUnixNano(int64(received - received%smear.Time(16*leap.Second)))
	if upgrade {
		// The client asks whether NTPv5 is spoken here: it is.
		reference = ntp.UpgradeMagic
	}
	h = ntp.Header{Leap: li, Version: h.Version, Mode: ntp.ModeServer, Stratum: stratum,
		Poll: h.Poll, Precision: r.settings.Precision, RootDelay: r.rootDly, RootDispersion: ntp.Short(r.rootDsp.Load()),
		ReferenceID: refid, Reference: reference, Origin: origin,
		Receive: ntp.TimestampFromUnixNano(int64(received))}
	_ = h.Encode(resp)
	if authenticated {
		if len(resp) < len(data) {
			return 0, DropMalformed
		}
		return len(data), AnsweredNTS
	}
	if extensions > 0 && h.Version == ntp.Version4 && b.set != nil {
		// A client asking for the smear declaration (leapsmear query)
		// gets it in a field as long as the one it sent.
		if _, n, ok := ntp.FindExtension(data, ntp.ExtSmearInfo); ok && len(resp) >= ntp.HeaderLen+n {
			f := resp[ntp.HeaderLen : ntp.HeaderLen+n]
			binary.BigEndian.PutUint16(f, ntp.ExtSmearInfo)
			binary.BigEndian.PutUint16(f[2:], uint16(n))
			clear(f[4+copy(f[4:], b.set.infoAt(rxTAI)):])
			return ntp.HeaderLen + n, Answered
		}
	}
	return ntp.HeaderLen, Answered
}

// rxTAI maps a request's kernel receive timestamp (0: none) to the
// continuous scale through the batch's reading.
func (b *Batch) rxTAI(rx timescale.Realtime) leap.TAI {
	if rx == 0 {
		return b.Now.TAI
	}
	return b.Now.FromRealtime(rx)
}

// v5Draft is ntp.V5Draft as the Draft Identification field carries it.
var v5Draft = []byte(ntp.V5Draft)

// v5ServerInfo is the value of the Server Information field: the versions
// answered (bit v-1 for version v: 3, 4 and 5) and 16 reserved bits.
var v5ServerInfo = []byte{0, 1<<2 | 1<<3 | 1<<4, 0, 0}

// respondV5 answers an NTPv5 request (draft-ietf-ntp-ntpv5-09): requests
// that do not name this draft in a Draft Identification field are dropped
// (DropVersion; another revision's format may differ), malformed extension
// fields too. The reply is as long as the request: the header, the Draft
// Identification field, the Server Information field when asked for, and a
// Padding field for the rest. Other fields and flags are ignored: no
// interleaved mode (the reply says basic mode, server cookie 0), no
// reference IDs, no MAC.
//
// The reply is in the timescale asked for: UTC by the step policy, with
// the leap indicator announcing the leap from 00:00 UTC of the leap day;
// TAI (the continuous scale; LI 0); leap-smeared UTC by the listener's
// NTPv5 smear (LI 0), or UTC where the listener offers none. UT1 and
// timescales the draft does not define get the listener's own: leap-smeared
// UTC when its policy smears, else UTC. The Timescale field says which was
// served, the Era field the NTP era of the receive timestamp.
func (r *Responder) respondV5(b *Batch, req Request, resp []byte) (int, Verdict) {
	data := req.Data
	var h ntp.HeaderV5
	_ = h.Decode(data)
	if h.Mode != ntp.ModeClient {
		return 0, DropMode
	}
	draft, serverInfo := false, false
	for rest := data[ntp.HeaderLen:]; ; {
		f, next, ok, err := ntp.NextExtensionV5(rest)
		if err != nil {
			return 0, DropMalformed
		}
		if !ok {
			break
		}
		switch f.Type {
		case ntp.ExtV5DraftID:
			draft = string(f.Value) == ntp.V5Draft
		case ntp.ExtV5ServerInfo:
			serverInfo = len(f.Value) >= len(v5ServerInfo)
		}
		rest = next
	}
	if !draft {
		return 0, DropVersion
	}
	if ntsc := r.nts.Load(); ntsc != nil && ntsc.require {
		return 0, DropUnauthenticated
	}
	if len(resp) < len(data) {
		return 0, DropMalformed // a reply buffer too small (a caller's mistake)
	}
	reply := resp[:len(data)]
	if r.limiter != nil {
		switch r.limiter.Allow(req.Source.Addr(), ratelimit.Instant(b.Now.TAI)) {
		case ratelimit.Kiss:
			// NTPv5 has no kiss codes: stratum 0 and a longer poll, no
			// time, not synchronised.
			k := ntp.HeaderV5{Leap: ntp.LeapUnsynchronised, Mode: ntp.ModeServer, Poll: max(h.Poll, 6) + 1,
				Precision: r.settings.Precision, Timescale: h.Timescale, ClientCookie: h.ClientCookie}
			_ = k.Encode(reply)
			r.v5Fields(reply, false)
			return len(reply), Kissed
		case ratelimit.Drop:
			return 0, DropRateLimited
		}
	}
	ts := h.Timescale
	switch {
	case ts == ntp.TimescaleSmeared && b.Smeared == nil:
		ts = ntp.TimescaleUTC
	case ts > ntp.TimescaleSmeared || ts == ntp.TimescaleUT1:
		ts = ntp.TimescaleUTC
		if b.Smear.Policy().Shape != smear.Step && b.Smeared != nil {
			ts = ntp.TimescaleSmeared
		}
	}
	rxTAI := b.rxTAI(req.Rx)
	received, li, verdict := int64(rxTAI), uint8(ntp.LeapNone), AnsweredV5TAI
	switch ts {
	case ntp.TimescaleUTC:
		received, li, verdict = int64(b.UTC.Served(rxTAI)), uint8(b.UTC.LI(rxTAI)), AnsweredV5UTC
	case ntp.TimescaleSmeared:
		received, verdict = int64(b.Smeared.Served(rxTAI)), AnsweredV5Smeared
	}
	stratum, flags := r.settings.Stratum, ntp.FlagSynchronized
	if !b.Synced {
		li, stratum, flags = ntp.LeapUnsynchronised, ntp.StratumUnsynchronised, 0
	}
	h = ntp.HeaderV5{Leap: li, Mode: ntp.ModeServer, Stratum: stratum, Poll: h.Poll, Precision: r.settings.Precision,
		RootDelay: r.rootDly5, RootDispersion: ntp.Time32(r.rootDsp5.Load()), Timescale: ts, Era: ntp.Era(received), Flags: flags,
		ClientCookie: h.ClientCookie, Receive: ntp.TimestampFromUnixNano(received)}
	_ = h.Encode(reply)
	r.v5Fields(reply, serverInfo)
	return len(reply), verdict
}

// v5Fields writes the extension fields of an NTPv5 reply after its header:
// Draft Identification, Server Information when asked, Padding to the end.
// The request held the first two, so they fit.
func (r *Responder) v5Fields(reply []byte, serverInfo bool) {
	off := ntp.HeaderLen
	off += ntp.PutExtensionV5(reply[off:], ntp.ExtV5DraftID, v5Draft)
	if serverInfo {
		off += ntp.PutExtensionV5(reply[off:], ntp.ExtV5ServerInfo, v5ServerInfo)
	}
	if off < len(reply) {
		ntp.PutPaddingV5(reply[off:])
	}
}

// Answerable reports whether a request from src may be answered: never from
// port 0, an unspecified address (0.0.0.0, ::), a multicast or the limited
// broadcast address (255.255.255.255), IPv4-mapped or not. No host sends
// from those; a request that claims to is forged, and a reply could only
// feed a reflection attack or a loop. The directed broadcast addresses of
// the host's subnets are just as impossible, but which they are depends on
// the host: Broadcasts.Answerable checks them too, and Respond calls it.
func Answerable(src netip.AddrPort) bool { return (*Broadcasts)(nil).Answerable(src) }

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
// as late as possible before the replies are sent, and returns it as the
// listener's policy serves it (NTPv3 and NTPv4; StampReply serves every
// version from TransmitTAI).
func (r *Responder) TransmitTime(b *Batch) ntp.Timestamp {
	return ntp.TimestampFromUnixNano(int64(b.Smear.Served(r.clock.Now().TAI)))
}

// TransmitTAI reads the clock again for the transmit timestamps of a batch,
// as late as possible before the replies are sent (see StampReply).
func (r *Responder) TransmitTAI() leap.TAI { return r.clock.Now().TAI }

// StampTransmit writes the transmit timestamp into a reply built by Respond.
// Kiss-o'-Death replies (stratum 0) keep the client's timestamp.
func StampTransmit(resp []byte, ts ntp.Timestamp) {
	if resp[1] != 0 {
		binary.BigEndian.PutUint64(resp[40:ntp.HeaderLen], uint64(ts))
	}
}

// StampReply writes the transmit timestamp of the instant x (read with
// TransmitTAI) into a reply built by Respond with the batch b, in the
// reply's own time: the listener's policy for NTPv3 and NTPv4, the
// timescale the reply names for NTPv5. Kiss-o'-Death replies (stratum 0)
// are left alone. It allocates nothing.
func StampReply(b *Batch, resp []byte, x leap.TAI) {
	if resp[1] == 0 {
		return
	}
	s := b.Smear
	if resp[0]>>3&7 == ntp.Version5 {
		switch ntp.Timescale(resp[12]) {
		case ntp.TimescaleTAI:
			binary.BigEndian.PutUint64(resp[40:ntp.HeaderLen], uint64(ntp.TimestampFromUnixNano(int64(x))))
			return
		case ntp.TimescaleSmeared:
			if b.Smeared != nil {
				s = b.Smeared
			}
		default:
			s = b.UTC
		}
	}
	binary.BigEndian.PutUint64(resp[40:ntp.HeaderLen], uint64(ntp.TimestampFromUnixNano(int64(s.Served(x)))))
}
