package client

import (
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/ntp"
)

// v5Reply answers an NTPv5 request as a draft-09 server whose clock is
// ahead by offset would, in the timescale asked for (TAI 37 s ahead of UTC),
// after edit.
func v5Reply(t *testing.T, raw []byte, offset time.Duration, edit func(*ntp.HeaderV5, []byte) []byte) []byte {
	var req ntp.HeaderV5
	_ = req.Decode(raw)
	now := time.Now().Add(offset)
	if req.Timescale == ntp.TimescaleTAI {
		now = now.Add(37 * time.Second)
	}
	h := ntp.HeaderV5{Mode: ntp.ModeServer, Stratum: 2, Poll: req.Poll, Precision: -20, Timescale: req.Timescale,
		Flags: ntp.FlagSynchronized, ClientCookie: req.ClientCookie, RootDelay: ntp.Time32FromDuration(time.Millisecond),
		Receive: ntp.TimestampFromTime(now), Transmit: ntp.TimestampFromTime(now.Add(10 * time.Microsecond))}
	b := make([]byte, len(raw))
	fields := make([]byte, len(raw)-ntp.HeaderLen)
	n := ntp.PutExtensionV5(fields, ntp.ExtV5DraftID, []byte(ntp.V5Draft))
	if n < len(fields) {
		ntp.PutPaddingV5(fields[n:])
	}
	if edit != nil {
		fields = edit(&h, fields)
	}
	if err := h.Encode(b); err != nil {
		t.Error(err)
	}
	return append(b[:ntp.HeaderLen], fields...)
}

// TestQueryV5: an NTPv5 request is the v5 header (the timescale asked for,
// a random client cookie, no timestamps) and the Draft Identification
// field; the reply's timescale, header and offset come back, and replies
// echoing another cookie, naming another draft or not synchronised are
// told apart.
func TestQueryV5(t *testing.T) {
	type editFunc = func(*ntp.HeaderV5, []byte) []byte
	var edit atomic.Pointer[editFunc] // set by the test, read by the fake's goroutine
	f := newFake(t, "udp4", "127.0.0.1", func(f *fake, _ ntp.Header, raw []byte, from netip.AddrPort) {
		var e editFunc
		if p := edit.Load(); p != nil {
			e = *p
		}
		f.send(from, v5Reply(t, raw, 250*time.Millisecond, e))
	})
	for _, ts := range []ntp.Timescale{ntp.TimescaleUTC, ntp.TimescaleTAI, ntp.TimescaleSmeared} {
		resp, err := Query(context.Background(), f.addr, Options{Version: 5, Timescale: ts, Timeout: time.Second})
		if err != nil {
			t.Fatalf("%v: %v", ts, err)
		}
		raw := f.requestsSeen()[len(f.requestsSeen())-1]
		var req ntp.HeaderV5
		_ = req.Decode(raw)
		fld, rest, ok, err := ntp.NextExtensionV5(raw[ntp.HeaderLen:])
		if raw[0] != 0x2b || req.Timescale != ts || req.ClientCookie == 0 || req.Receive != 0 || req.Transmit != 0 ||
			!ok || err != nil || len(rest) != 0 || fld.Type != ntp.ExtV5DraftID || string(fld.Value) != ntp.V5Draft {
			t.Fatalf("%v: request % x", ts, raw)
		}
		want := 250 * time.Millisecond
		if ts == ntp.TimescaleTAI {
			want += 37 * time.Second
		}
		if resp.Timescale != ts || resp.V5 == nil || resp.Header.Version != 5 || resp.Header.Stratum != 2 ||
			resp.Header.RootDelay != ntp.ShortFromDuration(time.Millisecond) || (resp.Offset-want).Abs() > resp.Delay/2+time.Millisecond {
			t.Errorf("%v: %+v offset %v", ts, resp.Header, resp.Offset)
		}
		d := resp.Smear()
		if d.Smearing != map[bool]Smearing{true: SmearYes, false: SmearNo}[ts == ntp.TimescaleSmeared] || !strings.HasPrefix(d.Evidence, "NTPv5 timescale") {
			t.Errorf("%v: declaration %+v", ts, d)
		}
	}
	for _, c := range []struct {
		name string
		edit func(*ntp.HeaderV5, []byte) []byte
		want error
	}{
		{"another cookie", func(h *ntp.HeaderV5, b []byte) []byte { h.ClientCookie++; return b }, ErrNoAnswer},
		{"draft 06", func(_ *ntp.HeaderV5, b []byte) []byte { copy(b[4:], "draft-ietf-ntp-ntpv5-06"); return b }, ErrNoAnswer},
		{"bad field", func(_ *ntp.HeaderV5, b []byte) []byte { return append(b, 1, 2) }, ErrNoAnswer},
		{"not synchronised", func(h *ntp.HeaderV5, b []byte) []byte { h.Flags = 0; return b }, ErrUnsynchronised},
	} {
		edit.Store(&c.edit)
		_, err := Query(context.Background(), f.addr, Options{Version: 5, Timeout: 200 * time.Millisecond})
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	stratum0 := editFunc(func(h *ntp.HeaderV5, b []byte) []byte { h.Stratum, h.Receive, h.Transmit = 0, 0, 0; return b })
	edit.Store(&stratum0)
	var kiss *KissError
	if _, err := Query(context.Background(), f.addr, Options{Version: 5, Timeout: time.Second}); !errors.As(err, &kiss) || kiss.Code != "V5" {
		t.Errorf("stratum 0: %v", err)
	}
	if _, err := Dial(context.Background(), f.addr, Options{Version: 5, NTS: &NTSOptions{}}); err == nil {
		t.Error("NTPv5 with NTS accepted")
	}
}

// TestQuerySmearInfo: with SmearInfo, an NTPv4 request carries the NTPv5
// upgrade magic and an empty ExtSmearInfo field; a leapsmear server's
// declaration and its echo of the magic come back; a server that ignores
// both is answered as usual.
func TestQuerySmearInfo(t *testing.T) {
	info := "policy=noon-to-noon window=linear:-12h0m0s:24h0m1s"
	var plain atomic.Bool // the fake answers as a server that knows neither question
	f := newFake(t, "udp4", "127.0.0.1", func(f *fake, req ntp.Header, raw []byte, from netip.AddrPort) {
		h := goodReply(req, 0)
		if plain.Load() {
			f.send(from, encode(t, h))
			return
		}
		h.Reference, h.ReferenceID = req.Reference, ntp.RefIDFromSmear(-250*time.Millisecond)
		at, n, ok := ntp.FindExtension(raw, ntp.ExtSmearInfo)
		if !ok {
			f.send(from, encode(t, h))
			return
		}
		b := append(encode(t, h), raw[at:at+n]...)
		copy(b[ntp.HeaderLen+4:], info)
		f.send(from, b)
	})
	resp, err := Query(context.Background(), f.addr, Options{SmearInfo: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	raw := f.requestsSeen()[0]
	if len(raw) != ntp.HeaderLen+ntp.SmearInfoRequestLen || binary.BigEndian.Uint64(raw[16:]) != uint64(ntp.UpgradeMagic) {
		t.Errorf("request % x", raw)
	}
	d := resp.Smear()
	if !resp.SpeaksV5 || resp.SmearInfo == nil || resp.SmearInfo.Policy != "noon-to-noon" || d.Smearing != SmearYes ||
		!d.HasOffset || d.Offset != -250*time.Millisecond || !strings.Contains(d.Evidence, "leapsmear policy noon-to-noon") ||
		!strings.Contains(d.Evidence, "254.240.0.0") {
		t.Errorf("response %+v, declaration %+v", resp, d)
	}
	plain.Store(true)
	resp, err = Query(context.Background(), f.addr, Options{SmearInfo: true, Timeout: time.Second})
	if err != nil || resp.SpeaksV5 || resp.SmearInfo != nil || resp.Smear().Smearing != SmearUnknown {
		t.Errorf("plain server: %+v %v", resp, err)
	}
	// Without SmearInfo, a plain 48-byte request.
	if _, err := Query(context.Background(), f.addr, Options{Timeout: time.Second}); err != nil {
		t.Fatal(err)
	}
	if seen := f.requestsSeen(); len(seen[len(seen)-1]) != ntp.HeaderLen {
		t.Errorf("request of %d bytes", len(seen[len(seen)-1]))
	}
}

func TestSmearDeclarations(t *testing.T) {
	n2n := &ntp.SmearInfo{Policy: "noon-to-noon", Window: "linear:-12h0m0s:24h0m1s", Leap: "2016-12-31T23:59:60Z", Delta: 1, Opens: "a", Closes: "b"}
	q17 := &ntp.SmearInfo{Policy: "quadratic-17h", Window: "quadratic:0s:17h21m40s", Leap: "2016-12-31T23:59:60Z", Delta: 1, Opens: "c", Closes: "d"}
	step := &ntp.SmearInfo{Policy: "step", Window: "step"}
	h := func(stratum uint8, refid uint32) ntp.Header {
		return ntp.Header{Stratum: stratum, ReferenceID: refid, Mode: ntp.ModeServer}
	}
	for _, c := range []struct {
		name string
		resp Response
		want Smearing
		ev   string
	}{
		{"plain", Response{Header: h(2, 0xc0000201)}, SmearUnknown, ""},
		{"draft refid", Response{Header: h(2, ntp.RefIDFromSmear(time.Second/8))}, SmearYes, "offset +0.125000 s"},
		{"chrony refid", Response{Header: h(2, ntp.RefIDChronySmooth)}, SmearYes, "chrony"},
		{"kiss", Response{Header: h(0, 0xfe000001)}, SmearUnknown, ""},
		{"unsynchronised", Response{Header: h(16, 0xfe000001)}, SmearUnknown, ""},
		{"leapsmear step", Response{Header: h(2, 0), SmearInfo: step}, SmearNo, "leapsmear policy step (no smear)"},
		{"leapsmear smearing", Response{Header: h(2, 0), SmearInfo: n2n}, SmearYes, "window linear:-12h0m0s:24h0m1s"},
		{"NTPv5 TAI", Response{V5: &ntp.HeaderV5{}, Timescale: ntp.TimescaleTAI}, SmearNo, "NTPv5 timescale tai"},
	} {
		d := c.resp.Smear()
		if d.Smearing != c.want || !strings.Contains(d.Evidence, c.ev) || (c.ev == "") != (d.Evidence == "") {
			t.Errorf("%s: %+v", c.name, d)
		}
	}
	yes := func(i *ntp.SmearInfo) SmearDeclaration {
		return SmearDeclaration{Smearing: SmearYes, Evidence: "leapsmear policy " + i.Policy, Info: i}
	}
	for _, c := range []struct {
		name  string
		decls []SmearDeclaration
		want  string
	}{
		{"all plain", []SmearDeclaration{{}, {}}, ""},
		{"same smear", []SmearDeclaration{yes(n2n), yes(n2n), {Smearing: SmearYes, Evidence: "reference ID"}}, ""},
		{"smear and nothing", []SmearDeclaration{yes(n2n), {}}, "B (declares nothing) do not"},
		{"smear and step", []SmearDeclaration{{Smearing: SmearNo, Evidence: "leapsmear policy step (no smear)"}, yes(n2n)}, "mix leap-smeared and unsmeared time: B (leapsmear policy noon-to-noon) smear; A (leapsmear policy step (no smear)) do not"},
		{"two smears", []SmearDeclaration{yes(n2n), yes(q17)}, "smear differently: A smears by noon-to-noon"},
	} {
		err := CheckSources([]string{"A", "B", "C"}[:len(c.decls)], c.decls)
		if (err == nil) != (c.want == "") || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
