package server

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/ntp"
	"github.com/leapsmear/leapsmear/ratelimit"
	"github.com/leapsmear/leapsmear/smear"
)

// v5Request encodes an NTPv5 request for timescale ts with a client cookie,
// the Draft Identification field and then extra (more fields).
func v5Request(t testing.TB, ts ntp.Timescale, cookie uint64, extra ...[]byte) []byte {
	t.Helper()
	h := ntp.HeaderV5{Mode: ntp.ModeClient, Timescale: ts, Poll: 4, ClientCookie: cookie, Flags: ntp.FlagInterleaved | 0x8000,
		Transmit: 0x1122334455667788}
	b := make([]byte, ntp.HeaderLen+ntp.ExtensionV5Len(len(ntp.V5Draft)))
	if err := h.Encode(b); err != nil {
		t.Fatal(err)
	}
	ntp.PutExtensionV5(b[ntp.HeaderLen:], ntp.ExtV5DraftID, []byte(ntp.V5Draft))
	return slices.Concat(append([][]byte{b}, extra...)...)
}

// v5Field encodes one NTPv5 extension field.
func v5Field(typ uint16, value []byte) []byte {
	b := make([]byte, ntp.ExtensionV5Len(len(value)))
	ntp.PutExtensionV5(b, typ, value)
	return b
}

// v5Reply is a decoded NTPv5 reply with its extension fields.
type v5Reply struct {
	ntp.HeaderV5
	fields []ntp.ExtensionV5
}

func decodeV5(t testing.TB, b []byte) v5Reply {
	t.Helper()
	if b[0]>>3&7 != 5 {
		t.Fatalf("reply version %d", b[0]>>3&7)
	}
	var r v5Reply
	_ = r.Decode(b)
	for rest := b[ntp.HeaderLen:]; ; {
		f, next, ok, err := ntp.NextExtensionV5(rest)
		if err != nil {
			t.Fatalf("reply fields % x: %v", b[ntp.HeaderLen:], err)
		}
		if !ok {
			break
		}
		r.fields = append(r.fields, f)
		rest = next
	}
	if len(r.fields) == 0 || r.fields[0].Type != ntp.ExtV5DraftID || string(r.fields[0].Value) != ntp.V5Draft {
		t.Fatalf("reply without this draft's identification: %+v", r.fields)
	}
	return r
}

// respondV5 answers one NTPv5 request and checks what every reply must be:
// as long as the request, the client cookie echoed, mode 4, the verdict of
// the timescale served.
func respondV5(t *testing.T, r *Responder, req []byte) (v5Reply, Verdict) {
	t.Helper()
	resp := bytes.Repeat([]byte{0xee}, len(req)+16)
	n, v := respond(r, req, resp, 0)
	if n != len(req) {
		t.Fatalf("reply of %d bytes (%v) to a request of %d", n, v, len(req))
	}
	if !bytes.Equal(resp[n:], bytes.Repeat([]byte{0xee}, 16)) {
		t.Fatal("written beyond the reply")
	}
	rep := decodeV5(t, resp[:n])
	var q ntp.HeaderV5
	_ = q.Decode(req)
	if rep.Mode != ntp.ModeServer || rep.ClientCookie != q.ClientCookie || rep.ServerCookie != 0 || (rep.Poll != q.Poll) != (v == Kissed) {
		t.Fatalf("reply %+v to %+v", rep.HeaderV5, q)
	}
	if ts, ok := v.Timescale(); v != Kissed && (!ok || ts != rep.Timescale) {
		t.Fatalf("verdict %v for a reply in %v", v, rep.Timescale)
	}
	return rep, v
}

// onScale returns what each NTPv5 timescale serves at x: UTC (true UTC in
// POSIX ns, as the table says), TAI, and the policy's smear.
func onScale(tbl *leap.Table, s *smear.Smear, ts ntp.Timescale, x leap.TAI) int64 {
	switch ts {
	case ntp.TimescaleTAI:
		return int64(x)
	case ntp.TimescaleSmeared:
		return int64(s.Served(x))
	}
	return int64(tbl.UnixFromTAI(x))
}

// TestRespondV5Timescales: through the replayed 2016 leap and rehearsed
// leaps of either sign, an NTPv5 request for UTC, TAI or leap-smeared UTC
// gets exactly that timescale, to the nanosecond of the 32-bit fraction:
// UTC steps with the leap announced from 00:00 of the leap day, TAI runs
// through with TAI-UTC one more (or less) after the leap, and the smear is
// the listener's policy; the Timescale field says which, the Era field the
// receive timestamp's era, and the transmit timestamp is on the same scale.
func TestRespondV5Timescales(t *testing.T) {
	real := leap.Default()
	rehearseAt := mustTime(t, "2026-11-23T15:00:00Z")
	plus, err := real.WithRehearsal(rehearseAt, 1)
	if err != nil {
		t.Fatal(err)
	}
	minus, err := real.WithRehearsal(rehearseAt, -1)
	if err != nil {
		t.Fatal(err)
	}
	type instant struct {
		at       string // on the source's (real) table
		taiUTC   int    // TAI-UTC of the served UTC, in seconds
		li       uint8  // NTPv5 UTC's leap indicator
		smearOff time.Duration
	}
	for _, c := range []struct {
		name     string
		table    *leap.Table // the smears' table
		policy   string
		instants []instant
	}{
		{"replayed 2016 leap", real, "noon-to-noon", []instant{
			{"2016-12-30T23:00:00Z", 36, 0, 0},
			{"2016-12-31T11:00:00Z", 36, 1, 0},
			{"2016-12-31T18:00:00Z", 36, 1, -250 * time.Millisecond},
			{"2016-12-31T23:59:59.5Z", 36, 1, -500 * time.Millisecond},
			{"2017-01-01T06:00:00Z", 37, 0, 250 * time.Millisecond},
			{"2017-01-01T13:00:00Z", 37, 0, 0},
		}},
		{"rehearsed inserted second", plus, "linear:-60s:5m", []instant{
			{"2026-11-23T14:58:00Z", 37, 1, 0},
			{"2026-11-23T14:59:30Z", 37, 1, -100 * time.Millisecond},
			{"2026-11-23T15:02:00Z", 38, 0, 400 * time.Millisecond},
			{"2026-11-23T15:05:00Z", 38, 0, 0},
		}},
		{"rehearsed deleted second", minus, "quadratic:0s:10m", []instant{
			{"2026-11-23T14:00:00Z", 37, 2, 0},
			{"2026-11-23T15:05:00Z", 36, 0, -500 * time.Millisecond},
			{"2026-11-23T15:11:00Z", 36, 0, 0},
		}},
	} {
		p, err := smear.Parse(c.policy)
		if err != nil {
			t.Fatal(err)
		}
		sm, err := NewSmears(c.table, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range c.instants {
			at := mustTime(t, in.at)
			src := newFakeSource(real, at, time.Microsecond)
			x := real.TAIFromTime(at)
			r := NewResponderSmears(src, sm, testSettings, nil)
			got := map[ntp.Timescale]int64{}
			for _, ts := range []ntp.Timescale{ntp.TimescaleUTC, ntp.TimescaleTAI, ntp.TimescaleSmeared} {
				src.set(x, at.UnixNano())
				rep, _ := respondV5(t, r, v5Request(t, ts, uint64(ts)+0xabc))
				want := onScale(c.table, sm.Policy, ts, x)
				wantLI := uint8(0)
				if ts == ntp.TimescaleUTC {
					wantLI = in.li
				}
				if rep.Timescale != ts || rep.Leap != wantLI || rep.Era != 0 || rep.Flags != ntp.FlagSynchronized ||
					rep.Stratum != testSettings.Stratum || rep.Precision != testSettings.Precision ||
					rep.RootDelay != ntp.Time32FromDuration(testSettings.RootDelay) ||
					rep.RootDispersion != ntp.Time32FromDuration(testSettings.RootDispersion) {
					t.Errorf("%s at %s, %v: reply %+v, want LI %d", c.name, in.at, ts, rep.HeaderV5, wantLI)
				}
				if rep.Receive != ntp.TimestampFromUnixNano(want) {
					t.Errorf("%s at %s, %v: receive %v, want %v", c.name, in.at, ts,
						rep.Receive.Time(at).Format(time.RFC3339Nano), time.Unix(0, want).UTC().Format(time.RFC3339Nano))
				}
				// The transmit time was read one tick after the batch's.
				if wantTx := onScale(c.table, sm.Policy, ts, x+leap.TAI(time.Microsecond)); rep.Transmit != ntp.TimestampFromUnixNano(wantTx) {
					t.Errorf("%s at %s, %v: transmit %v off", c.name, in.at, ts, rep.Transmit.Sub(ntp.TimestampFromUnixNano(wantTx)))
				}
				got[ts] = want
			}
			if d := time.Duration(got[ntp.TimescaleTAI] - got[ntp.TimescaleUTC]); d != time.Duration(in.taiUTC)*time.Second {
				t.Errorf("%s at %s: TAI-UTC served %v, want %d s", c.name, in.at, d, in.taiUTC)
			}
			// The exact check is above; this one says the smear is where the
			// policy puts it (noon-to-noon's 24 h + 1 s window makes 18:00
			// 0.2499971 s, not 0.25 s).
			if d := time.Duration(got[ntp.TimescaleSmeared] - got[ntp.TimescaleUTC]); (d - in.smearOff).Abs() > time.Millisecond {
				t.Errorf("%s at %s: smeared minus UTC %v, want %v", c.name, in.at, d, in.smearOff)
			}
		}
	}
}

// TestRespondV5Fallbacks: what is served when the timescale asked for is
// not offered: UT1 and undefined timescales get the listener's own
// (leap-smeared UTC when it smears, else UTC), leap-smeared UTC on a
// stepping listener gets UTC unless it has an NTPv5 smear policy.
func TestRespondV5Fallbacks(t *testing.T) {
	tbl := leap.Default()
	at := mustTime(t, "2016-12-31T18:00:00Z")
	step, _ := smear.Parse("step")
	n2n, _ := smear.Parse("noon-to-noon")
	short, _ := smear.Parse("linear:-30s:61s")
	for _, c := range []struct {
		name   string
		policy smear.Policy
		v5     *smear.Policy
		ask    ntp.Timescale
		want   ntp.Timescale
	}{
		{"smearing, UT1", n2n, nil, ntp.TimescaleUT1, ntp.TimescaleSmeared},
		{"smearing, timescale 200", n2n, nil, 200, ntp.TimescaleSmeared},
		{"stepping, UT1", step, nil, ntp.TimescaleUT1, ntp.TimescaleUTC},
		{"stepping, smeared", step, nil, ntp.TimescaleSmeared, ntp.TimescaleUTC},
		{"stepping with a v5 smear, smeared", step, &n2n, ntp.TimescaleSmeared, ntp.TimescaleSmeared},
		{"stepping with a v5 smear, UT1", step, &n2n, ntp.TimescaleUT1, ntp.TimescaleUTC},
		{"v5 step policy offers no smear", n2n, &step, ntp.TimescaleSmeared, ntp.TimescaleUTC},
		{"own policy for v4, another for v5", n2n, &short, ntp.TimescaleSmeared, ntp.TimescaleSmeared},
	} {
		sm, err := NewSmears(tbl, c.policy, c.v5)
		if err != nil {
			t.Fatal(err)
		}
		r := NewResponderSmears(newFakeSource(tbl, at, 0), sm, testSettings, nil)
		rep, _ := respondV5(t, r, v5Request(t, c.ask, 1))
		if rep.Timescale != c.want {
			t.Errorf("%s: served %v, want %v", c.name, rep.Timescale, c.want)
			continue
		}
		x := tbl.TAIFromTime(at)
		want := int64(tbl.UnixFromTAI(x))
		if c.want == ntp.TimescaleSmeared {
			want = int64(sm.Smeared.Served(x))
		}
		if rep.Receive != ntp.TimestampFromUnixNano(want) {
			t.Errorf("%s: receive off by %v", c.name, rep.Receive.Sub(ntp.TimestampFromUnixNano(want)))
		}
		// NTPv4 keeps the listener's own policy whatever NTPv5 offers.
		resp := make([]byte, ntp.HeaderLen)
		respond(r, request(t, 4, 3, 6, 1, nil), resp, 0)
		if h := decode(t, resp); h.Receive != served(sm.Policy, x) {
			t.Errorf("%s: NTPv4 receive %v, want the listener's policy", c.name, h.Receive.Sub(served(sm.Policy, x)))
		}
	}
	if sm, _ := NewSmears(tbl, n2n, &short); sm.Smeared.Policy().Name != short.Name || sm.UTC.Policy().Shape != smear.Step {
		t.Errorf("smears %v %v", sm.Smeared.Policy(), sm.UTC.Policy())
	}
}

// TestRespondV5Fields: a longer request (padding, a Server Information
// request, unknown fields) gets a reply of its length: the draft's
// identification, the versions answered, padding; unknown flags and fields
// are ignored. Across 2036 the era field counts.
func TestRespondV5Fields(t *testing.T) {
	tbl := leap.Default()
	at := mustTime(t, "2036-02-07T07:00:00Z")
	r := NewResponder(newFakeSource(tbl, at, 0), ntptest.Smear(t, tbl, "noon-to-noon"), testSettings, nil)
	req := v5Request(t, ntp.TimescaleUTC, 7, v5Field(0x1234, []byte("unknown")), v5Field(ntp.ExtV5ServerInfo, make([]byte, 4)),
		v5Field(ntp.ExtV5Padding, make([]byte, 96)))
	rep, v := respondV5(t, r, req)
	if v != AnsweredV5UTC || rep.Era != 1 || rep.Receive.Time(at).Sub(at).Abs() > time.Microsecond {
		t.Errorf("%v era %d receive %v", v, rep.Era, rep.Receive.Time(at))
	}
	if len(rep.fields) != 3 || rep.fields[1].Type != ntp.ExtV5ServerInfo || rep.fields[2].Type != ntp.ExtV5Padding {
		t.Fatalf("fields %+v", rep.fields)
	}
	if bits := binary.BigEndian.Uint16(rep.fields[1].Value); bits != 1<<2|1<<3|1<<4 {
		t.Errorf("versions %b, want 3, 4 and 5", bits)
	}
	if rep.Flags != ntp.FlagSynchronized {
		t.Errorf("flags %#x: no interleaved mode, nothing unknown echoed", rep.Flags)
	}
}

// TestRespondV5Drops: NTPv5 requests that are not answered, the reason
// counted and nothing written.
func TestRespondV5Drops(t *testing.T) {
	tbl := leap.Default()
	r := NewResponder(newFakeSource(tbl, mustTime(t, "2020-01-01T00:00:00Z"), 0), ntptest.Smear(t, tbl, "noon-to-noon"), testSettings, nil)
	good := v5Request(t, ntp.TimescaleUTC, 1)
	other := slices.Clone(good)
	copy(other[ntp.HeaderLen+4:], "draft-ietf-ntp-ntpv5-06")
	server := slices.Clone(good)
	server[0] = server[0]&^7 | ntp.ModeServer
	for _, c := range []struct {
		name string
		req  []byte
		want Verdict
	}{
		{"no draft identification", good[:ntp.HeaderLen], DropVersion},
		{"draft 06", other, DropVersion},
		{"only padding", append(slices.Clone(good[:ntp.HeaderLen]), v5Field(ntp.ExtV5Padding, make([]byte, 28))...), DropVersion},
		{"mode 4", server, DropMode},
		{"field length beyond the packet", append(slices.Clone(good), 0xf5, 0x01, 0x01, 0x00), DropMalformed},
		{"field length below 4", append(slices.Clone(good), 0xf5, 0x01, 0x00, 0x02), DropMalformed},
		{"two stray bytes", append(slices.Clone(good), 0, 0), DropMalformed},
	} {
		resp := bytes.Repeat([]byte{0xee}, 256)
		if n, v := respond(r, c.req, resp, 0); n != 0 || v != c.want {
			t.Errorf("%s: %d bytes, %v; want %v", c.name, n, v, c.want)
		}
		if !bytes.Equal(resp, bytes.Repeat([]byte{0xee}, 256)) {
			t.Errorf("%s: reply buffer written", c.name)
		}
	}
	// A buffer shorter than the request cannot take the reply.
	if n, v := respond(r, good, make([]byte, ntp.HeaderLen), 0); n != 0 || v != DropMalformed {
		t.Errorf("short buffer: %d %v", n, v)
	}
}

// TestRespondV5Unsynchronised: an unsynchronised host answers NTPv5 with the
// Synchronized flag clear, LI 3 and stratum 16; a rate-limited client gets
// stratum 0, a longer poll and no time.
func TestRespondV5Unsynchronised(t *testing.T) {
	tbl := leap.Default()
	at := mustTime(t, "2020-01-01T00:00:00Z")
	src := newFakeSource(tbl, at, 0)
	src.synced.Store(false)
	r := NewResponder(src, ntptest.Smear(t, tbl, "noon-to-noon"), testSettings, nil)
	rep, _ := respondV5(t, r, v5Request(t, ntp.TimescaleTAI, 1))
	if rep.Flags != 0 || rep.Leap != ntp.LeapUnsynchronised || rep.Stratum != ntp.StratumUnsynchronised {
		t.Errorf("unsynchronised: %+v", rep.HeaderV5)
	}
	src.synced.Store(true)
	r = NewResponder(src, ntptest.Smear(t, tbl, "noon-to-noon"), testSettings, &countingLimiter{decision: ratelimit.Kiss})
	rep, v := respondV5(t, r, v5Request(t, ntp.TimescaleTAI, 1))
	if v != Kissed || rep.Stratum != 0 || rep.Flags != 0 || rep.Poll != 7 || rep.Receive != 0 || rep.Transmit != 0 {
		t.Errorf("kiss: %v %+v", v, rep.HeaderV5)
	}
	r = NewResponder(src, ntptest.Smear(t, tbl, "noon-to-noon"), testSettings, &countingLimiter{decision: ratelimit.Drop})
	if n, v := respond(r, v5Request(t, ntp.TimescaleTAI, 1), make([]byte, 128), 0); n != 0 || v != DropRateLimited {
		t.Errorf("rate limited: %d %v", n, v)
	}
}

// TestRespondRefIDSmear: with a smear convention set, the reference ID of a
// smearing listener carries the marker exactly while the smear offset at the
// receive time is not zero, and the draft's carries that offset to within
// half a unit of 2^-22 s; stepping listeners never carry it. Checked at
// every nanosecond around the window's edges, and across the window.
func TestRespondRefIDSmear(t *testing.T) {
	tbl := leap.Default()
	for _, policy := range []string{"noon-to-noon", "linear:-30s:61s", "step"} {
		s := ntptest.Smear(t, tbl, policy)
		w, _ := s.Next(tbl.TAIFromTime(mustTime(t, "2016-12-31T00:00:00Z")))
		var xs []leap.TAI
		for _, edge := range []leap.TAI{w.Start, w.Event.Jump(), w.End} {
			for d := leap.TAI(-3); d <= 3; d++ {
				xs = append(xs, edge+d)
			}
		}
		for x := w.Start - leap.TAI(time.Second); x < w.End+leap.TAI(time.Second); x += (w.End - w.Start + leap.TAI(2*time.Second)) / 97 {
			xs = append(xs, x)
		}
		for _, mode := range []RefIDSmear{RefIDSmearDraft, RefIDSmearChrony, RefIDSmearOff} {
			set := testSettings
			set.RefIDSmear = mode
			src := newFakeSource(tbl, mustTime(t, "2016-12-31T00:00:00Z"), 0)
			r := NewResponder(src, s, set, nil)
			marked := 0
			for _, x := range xs {
				src.set(x, int64(tbl.UnixFromTAI(x)))
				resp := make([]byte, ntp.HeaderLen)
				respond(r, request(t, 4, 3, 6, 1, nil), resp, 0)
				h := decode(t, resp)
				off := s.Offset(x)
				want := set.RefID
				switch {
				case off == 0 || mode == RefIDSmearOff:
				case mode == RefIDSmearChrony:
					want = ntp.RefIDChronySmooth
				default:
					want = ntp.RefIDFromSmear(off)
				}
				if h.ReferenceID != want {
					t.Fatalf("%s %v at %s: refid %#x, want %#x (offset %v)", policy, mode, tbl.LabelFromTAI(x), h.ReferenceID, want, off)
				}
				if mode == RefIDSmearDraft && off != 0 {
					marked++
					if got, ok := ntp.SmearFromRefID(h.ReferenceID); !ok || (got-off).Abs() > 120 {
						t.Fatalf("%s at %s: refid says %v, offset %v", policy, tbl.LabelFromTAI(x), got, off)
					}
				}
			}
			if mode == RefIDSmearDraft && (marked == 0) != (policy == "step") {
				t.Errorf("%s: %d replies marked", policy, marked)
			}
		}
	}
	if m, err := ParseRefIDSmear("draft"); err != nil || m != RefIDSmearDraft || m.String() != "draft" {
		t.Errorf("draft: %v %v", m, err)
	}
	if m, err := ParseRefIDSmear(""); err != nil || m != RefIDSmearOff {
		t.Errorf("empty: %v %v", m, err)
	}
	if _, err := ParseRefIDSmear("ntpd"); err == nil {
		t.Error("ntpd accepted")
	}
}

// TestRespondUpgradeAndSmearInfo: an NTPv4 request with the NTPv5 upgrade
// magic gets it back; one with the smear declaration field gets the
// listener's policy, window and next leap in a field of the same length,
// the rest of the reply unchanged; a short field gets the declaration cut.
func TestRespondUpgradeAndSmearInfo(t *testing.T) {
	tbl := leap.Default()
	for _, c := range []struct {
		policy, at string
		want       ntp.SmearInfo
	}{
		{"noon-to-noon", "2016-12-31T18:00:00Z", ntp.SmearInfo{Policy: "noon-to-noon", Window: "linear:-12h0m0s:24h0m1s",
			Leap: "2016-12-31T23:59:60Z", Delta: 1, Opens: "2016-12-31T12:00:00Z", Closes: "2017-01-01T12:00:00Z"}},
		{"step", "2016-12-31T18:00:00Z", ntp.SmearInfo{Policy: "step", Window: "step",
			Leap: "2016-12-31T23:59:60Z", Delta: 1, Opens: "2016-12-31T23:59:60Z", Closes: "2016-12-31T23:59:60Z"}},
		{"noon-to-noon", "2026-01-01T00:00:00Z", ntp.SmearInfo{Policy: "noon-to-noon", Window: "linear:-12h0m0s:24h0m1s"}},
	} {
		at := mustTime(t, c.at)
		r := NewResponder(newFakeSource(tbl, at, 0), ntptest.Smear(t, tbl, c.policy), testSettings, nil)
		req := request(t, 4, 3, 6, 99, make([]byte, ntp.SmearInfoRequestLen))
		binary.BigEndian.PutUint16(req[ntp.HeaderLen:], ntp.ExtSmearInfo)
		binary.BigEndian.PutUint16(req[ntp.HeaderLen+2:], ntp.SmearInfoRequestLen)
		binary.BigEndian.PutUint64(req[16:], uint64(ntp.UpgradeMagic))
		resp := make([]byte, len(req))
		n, v := respond(r, req, resp, 0)
		if n != len(req) || v != Answered {
			t.Fatalf("%s: %d bytes, %v", c.policy, n, v)
		}
		h := decode(t, resp)
		if h.Reference != ntp.UpgradeMagic || h.Origin != 99 || h.Receive != served(r.Smear(), tbl.TAIFromTime(at)) {
			t.Errorf("%s: reply %+v", c.policy, h)
		}
		if binary.BigEndian.Uint16(resp[ntp.HeaderLen:]) != ntp.ExtSmearInfo || binary.BigEndian.Uint16(resp[ntp.HeaderLen+2:]) != ntp.SmearInfoRequestLen {
			t.Fatalf("%s: field % x", c.policy, resp[ntp.HeaderLen:ntp.HeaderLen+4])
		}
		info, err := ntp.ParseSmearInfo(resp[ntp.HeaderLen+4:])
		if err != nil || info != c.want {
			t.Errorf("%s at %s: declared %+v (%v), want %+v", c.policy, c.at, info, err, c.want)
		}
		// A field too short for the whole declaration gets what fits.
		short := request(t, 4, 3, 6, 99, make([]byte, 32))
		binary.BigEndian.PutUint16(short[ntp.HeaderLen:], ntp.ExtSmearInfo)
		binary.BigEndian.PutUint16(short[ntp.HeaderLen+2:], 32)
		resp = make([]byte, 256)
		if n, _ := respond(r, short, resp, 0); n != len(short) || !bytes.HasPrefix(resp[ntp.HeaderLen+4:], []byte("policy="+c.policy[:min(len(c.policy), 21)])) {
			t.Errorf("%s: short field: %d bytes %q", c.policy, n, resp[ntp.HeaderLen:n])
		}
		// Without the magic or the field, a plain reply.
		plain := request(t, 4, 3, 6, 99, nil)
		if n, _ := respond(r, plain, resp, 0); n != ntp.HeaderLen || decode(t, resp).Reference == ntp.UpgradeMagic {
			t.Errorf("%s: plain request answered with %d bytes", c.policy, n)
		}
	}
}

// TestRespondV5AllocatesNothing: NTPv5 replies, smear declarations and
// smear reference IDs cost no allocation either.
func TestRespondV5AllocatesNothing(t *testing.T) {
	tbl := leap.Default()
	set := testSettings
	set.RefIDSmear = RefIDSmearDraft
	r := NewResponder(newFakeSource(tbl, mustTime(t, "2016-12-31T18:00:00Z"), time.Microsecond), ntptest.Smear(t, tbl, "noon-to-noon"), set, nil)
	info := request(t, 4, 3, 6, 99, make([]byte, ntp.SmearInfoRequestLen))
	binary.BigEndian.PutUint16(info[ntp.HeaderLen:], ntp.ExtSmearInfo)
	binary.BigEndian.PutUint16(info[ntp.HeaderLen+2:], ntp.SmearInfoRequestLen)
	reqs := [][]byte{info, request(t, 4, 3, 6, 99, nil)}
	for _, ts := range []ntp.Timescale{ntp.TimescaleUTC, ntp.TimescaleTAI, ntp.TimescaleSmeared, ntp.TimescaleUT1} {
		reqs = append(reqs, v5Request(t, ts, 1, v5Field(ntp.ExtV5ServerInfo, make([]byte, 4)), v5Field(ntp.ExtV5Padding, make([]byte, 40))))
	}
	resp := make([]byte, 1024)
	for _, req := range reqs {
		if a := testing.AllocsPerRun(1000, func() { respond(r, req, resp, 0) }); a != 0 {
			t.Errorf("version %d, %d bytes: %v allocations per reply", req[0]>>3&7, len(req), a)
		}
	}
}

// FuzzRespondV5: NTPv5 requests with any header and any fields after the
// draft identification. Never a panic; a reply exactly to the well-formed
// ones, as long as the request, in a timescale the draft defines, with the
// client cookie echoed and receive <= transmit; nothing written otherwise.
func FuzzRespondV5(f *testing.F) {
	f.Add(v5Request(f, ntp.TimescaleUTC, 1), []byte{})
	f.Add(v5Request(f, ntp.TimescaleSmeared, 2), v5Field(ntp.ExtV5Padding, make([]byte, 40)))
	f.Add(v5Request(f, ntp.TimescaleUT1, 3), v5Field(ntp.ExtV5ServerInfo, []byte{0, 0, 0, 0}))
	f.Add(v5Request(f, 99, 4), []byte{0xf5, 0x05, 0, 5, 1, 0, 0, 0})
	f.Add(v5Request(f, ntp.TimescaleTAI, 5)[:ntp.HeaderLen], []byte{0xf5, 0xff, 0, 4})
	tbl := leap.Default()
	at := mustTime(f, "2016-12-31T23:59:30Z")
	r := NewResponder(newFakeSource(tbl, at, time.Microsecond), ntptest.Smear(f, tbl, "noon-to-noon"), testSettings, nil)
	f.Fuzz(func(t *testing.T, head, tail []byte) {
		if len(head) < ntp.HeaderLen {
			return
		}
		req := slices.Concat(head, tail)
		req[0] = req[0]&^0x38 | ntp.Version5<<3
		resp := bytes.Repeat([]byte{0xee}, len(req))
		n, v := respond(r, req, resp, 0)
		checkReply(t, req, resp, n, v)
		if n == 0 {
			if !bytes.Equal(resp, bytes.Repeat([]byte{0xee}, len(req))) {
				t.Fatal("dropped, but the reply buffer was written")
			}
			return
		}
		rep := decodeV5(t, resp[:n])
		if rep.Timescale > ntp.TimescaleSmeared || rep.Timescale == ntp.TimescaleUT1 || rep.Transmit.Sub(rep.Receive) < 0 {
			t.Fatalf("reply %+v", rep.HeaderV5)
		}
	})
}

// TestSmearInfoRehearsal: a rehearsal's leap, which does not end a UTC day,
// is declared too (its repeated second named without a space, as one token
// of the declaration), marked synthetic.
func TestSmearInfoRehearsal(t *testing.T) {
	tbl := leap.Default()
	at := mustTime(t, "2026-11-23T14:00:00Z")
	rt, err := tbl.WithRehearsal(mustTime(t, "2026-11-23T15:00:00Z"), 1)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := smear.Parse("linear:-60s:5m")
	sm, err := NewSmears(rt, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := NewResponderSmears(newFakeSource(tbl, at, 0), sm, testSettings, nil)
	req := request(t, 4, 3, 6, 99, make([]byte, ntp.SmearInfoRequestLen))
	binary.BigEndian.PutUint16(req[ntp.HeaderLen:], ntp.ExtSmearInfo)
	binary.BigEndian.PutUint16(req[ntp.HeaderLen+2:], ntp.SmearInfoRequestLen)
	resp := make([]byte, len(req))
	if n, _ := respond(r, req, resp, 0); n != len(req) {
		t.Fatalf("%d bytes", n)
	}
	info, err := ntp.ParseSmearInfo(resp[ntp.HeaderLen+4:])
	want := ntp.SmearInfo{Policy: "linear:-60s:5m", Window: "linear:-1m0s:5m0s", Leap: "2026-11-23T14:59:59Z(repeated)", Delta: 1,
		Opens: "2026-11-23T14:59:00Z", Closes: "2026-11-23T15:03:59Z", Synthetic: true}
	if err != nil || info != want {
		t.Errorf("declared %+v (%v), want %+v", info, err, want)
	}
}
