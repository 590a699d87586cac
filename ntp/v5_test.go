package ntp

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
	"time"
)

// v5Request is a draft-09 request as beevik/ntp v1.6.0 sends it: the header
// (timescale TAI, client cookie 0x0807060504030201, interleaved asked) and
// the Draft Identification field.
func v5Request() []byte {
	b := []byte{
		0x2b, 0, 0, 0, // LI 0, VN 5, mode 3
		0, 0, 0, 0, 0, 0, 0, 0, // root delay, dispersion
		1, 0, 0x00, 0x02, // timescale TAI, era 0, flags: interleaved
		0, 0, 0, 0, 0, 0, 0, 0, // server cookie
		8, 7, 6, 5, 4, 3, 2, 1, // client cookie
		0, 0, 0, 0, 0, 0, 0, 0, // receive
		0xec, 0x77, 0xa3, 0x80, 0, 0, 0, 0, // transmit (the client's, not echoed)
	}
	b = append(b, 0xf5, 0xff, 0, 4+byte(len(V5Draft)))
	b = append(b, V5Draft...)
	return append(b, 0) // padding to 76 bytes
}

func TestHeaderV5Decode(t *testing.T) {
	b := v5Request()
	if len(b) != 76 {
		t.Fatalf("request of %d bytes", len(b))
	}
	var h HeaderV5
	if err := h.Decode(b); err != nil {
		t.Fatal(err)
	}
	want := HeaderV5{Mode: ModeClient, Timescale: TimescaleTAI, Flags: FlagInterleaved,
		ClientCookie: 0x0807060504030201, Transmit: 0xec77a38000000000}
	if h != want {
		t.Fatalf("decoded %+v, want %+v", h, want)
	}
	out := make([]byte, HeaderLen)
	if err := h.Encode(out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, b[:HeaderLen]) {
		t.Fatalf("re-encoded %x, want %x", out, b[:HeaderLen])
	}
	if err := h.Decode(b[:47]); err != ErrShort {
		t.Errorf("Decode of 47 bytes: %v", err)
	}
	if err := (&HeaderV5{Mode: 8}).Encode(out); err != ErrField {
		t.Errorf("Encode of mode 8: %v", err)
	}
	f, rest, ok, err := NextExtensionV5(b[HeaderLen:])
	if err != nil || !ok || len(rest) != 0 || f.Type != ExtV5DraftID || string(f.Value) != V5Draft {
		t.Fatalf("draft field: %+v %q %v %v", f, rest, ok, err)
	}
}

func TestHeaderV5Encode(t *testing.T) {
	h := HeaderV5{Leap: LeapInsert, Mode: ModeServer, Stratum: 2, Poll: 6, Precision: -24,
		RootDelay: Time32FromDuration(time.Millisecond), RootDispersion: Time32FromDuration(2 * time.Millisecond),
		Timescale: TimescaleSmeared, Era: 1, Flags: FlagSynchronized, ServerCookie: 0x0102030405060708,
		ClientCookie: 0x1112131415161718, Receive: 0x2122232425262728, Transmit: 0x3132333435363738}
	b := make([]byte, HeaderLen)
	if err := h.Encode(b); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		at   int
		want []byte
	}{
		{0, []byte{0x6c, 2, 6, 0xe8}},
		{4, []byte{0x00, 0x04, 0x18, 0x93}}, // 1 ms in 4.28: 268435.456 -> 268435
		{12, []byte{3, 1, 0, 1}},
		{16, []byte{1, 2, 3, 4, 5, 6, 7, 8}},
		{24, []byte{0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18}},
	} {
		if got := b[c.at : c.at+len(c.want)]; !bytes.Equal(got, c.want) {
			t.Errorf("bytes %d..: %x, want %x", c.at, got, c.want)
		}
	}
	var back HeaderV5
	if err := back.Decode(b); err != nil || back != h {
		t.Fatalf("round trip %+v, %v", back, err)
	}
}

func TestTime32(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want Time32
	}{
		{-time.Second, 0},
		{0, 0},
		{time.Second, 1 << 28},
		{1500 * time.Millisecond, 3 << 27},
		{4, 1},                            // 3.7 ns per unit: 4 ns rounds to 1
		{16 * time.Second, 1<<32 - 1},     // saturates
		{time.Hour, 1<<32 - 1},            // saturates
		{MaxTime32, 1<<32 - 1},            // 15.999999999 s rounds to the top
		{time.Millisecond, 0x41893},       // 268435.456
		{250 * time.Microsecond, 0x10625}, // 67108.864
	} {
		if got := Time32FromDuration(c.d); got != c.want {
			t.Errorf("Time32FromDuration(%v) = %#x, want %#x", c.d, got, c.want)
		}
	}
	for d := time.Duration(0); d < 16*time.Second; d += 7777777 {
		if back := Time32FromDuration(d).Duration(); (back - d).Abs() > 2 {
			t.Fatalf("%v -> %v", d, back)
		}
	}
}

func TestEra(t *testing.T) {
	era1 := time.Date(2036, 2, 7, 6, 28, 16, 0, time.UTC).UnixNano()
	for _, c := range []struct {
		ns   int64
		want uint8
	}{
		{0, 0},
		{time.Date(2016, 12, 31, 23, 59, 59, 0, time.UTC).UnixNano(), 0},
		{era1 - 1, 0},
		{era1, 1},
		{era1 + 136*365*86400*int64(time.Second), 1},
		{-unixToNTP * int64(time.Second), 0},     // 1900-01-01
		{-unixToNTP*int64(time.Second) - 1, 255}, // just before: era -1
	} {
		if got := Era(c.ns); got != c.want {
			t.Errorf("Era(%v) = %d, want %d", time.Unix(0, c.ns).UTC(), got, c.want)
		}
	}
}

func TestTimescale(t *testing.T) {
	for ts := Timescale(0); ts < 4; ts++ {
		back, err := ParseTimescale(ts.String())
		if err != nil || back != ts {
			t.Errorf("%d: %q -> %d, %v", ts, ts.String(), back, err)
		}
	}
	if s := Timescale(9).String(); s != "timescale 9" {
		t.Errorf("Timescale(9) = %q", s)
	}
	if ts, err := ParseTimescale("leap-smeared"); err != nil || ts != TimescaleSmeared {
		t.Errorf("leap-smeared: %v %v", ts, err)
	}
	if _, err := ParseTimescale("gps"); err != ErrTimescale {
		t.Errorf("gps: %v", err)
	}
}

func TestExtensionV5(t *testing.T) {
	b := make([]byte, 64)
	n := PutExtensionV5(b, ExtV5DraftID, []byte(V5Draft))
	if n != 28 || binary.BigEndian.Uint16(b[2:]) != 27 || b[27] != 0 {
		t.Fatalf("draft field: %d bytes, %x", n, b[:n])
	}
	n += PutExtensionV5(b[n:], ExtV5ServerInfo, []byte{0, 0x1c, 0, 0})
	if n != 36 {
		t.Fatalf("%d bytes", n)
	}
	if p := PutPaddingV5(b[n:48]); p != 12 {
		t.Fatalf("padding: %d", p)
	}
	var types []uint16
	for rest := b[:48]; ; {
		f, r, ok, err := NextExtensionV5(rest)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		types, rest = append(types, f.Type), r
	}
	if len(types) != 3 || types[0] != ExtV5DraftID || types[1] != ExtV5ServerInfo || types[2] != ExtV5Padding {
		t.Fatalf("fields %x", types)
	}
	if PutExtensionV5(b[:27], ExtV5DraftID, []byte(V5Draft)) != 0 {
		t.Error("a field longer than the buffer was written")
	}
	if PutPaddingV5(b[:2]) != 0 || PutPaddingV5(b[:6]) != 0 {
		t.Error("padding of a bad size was written")
	}
	for _, bad := range [][]byte{
		{0xf5, 0x01, 0, 3},             // length below 4
		{0xf5, 0x01, 0, 9, 0, 0, 0, 0}, // padded length beyond the buffer
		{0xf5, 0x01, 0, 4, 0},          // not a multiple of four
		{0xf5},
	} {
		if _, _, _, err := NextExtensionV5(bad); err != ErrTrailerV5 {
			t.Errorf("%x: %v", bad, err)
		}
	}
}

// The examples of ntpd's tests/libntp/refidsmear.c, which converts the same
// 2.22 fixed-point format.
func TestRefIDSmear(t *testing.T) {
	for _, c := range []struct {
		refid  uint32
		offset time.Duration
	}{
		{0xfe800000, -2 * time.Second},
		{0xfef00000, -250 * time.Millisecond},
		{0xfe000000, 0},
		{0xfe700000, 1750 * time.Millisecond},
		{0xfe000001, 238},  // 2^-22 s = 238.4 ns
		{0xfeffffff, -238}, // -2^-22 s
	} {
		got, ok := SmearFromRefID(c.refid)
		if !ok || got != c.offset {
			t.Errorf("SmearFromRefID(%#x) = %v, %v; want %v", c.refid, got, ok, c.offset)
		}
		if back := RefIDFromSmear(c.offset); back != c.refid {
			t.Errorf("RefIDFromSmear(%v) = %#x, want %#x", c.offset, back, c.refid)
		}
	}
	// Every offset of a smear comes back within half a unit.
	for d := -time.Second; d <= time.Second; d += 999_983 {
		r := RefIDFromSmear(d)
		back, ok := SmearFromRefID(r)
		if !ok || (back-d).Abs() > 120 {
			t.Fatalf("%v -> %#x -> %v", d, r, back)
		}
		if d != 0 && r>>24 != 254 {
			t.Fatalf("%v -> %#x", d, r)
		}
	}
	if _, ok := SmearFromRefID(0x7f7f01ff); ok {
		t.Error("chrony's marker read as a draft smear refid")
	}
	if s := FormatRefID(RefIDChronySmooth, 2); s != "127.127.1.255" {
		t.Errorf("chrony's marker reads %s", s)
	}
}

func TestSmearInfo(t *testing.T) {
	in := SmearInfo{Policy: "noon-to-noon", Window: "linear:-12h:24h", Leap: "2016-12-31T23:59:60Z", Delta: 1,
		Opens: "2016-12-31T12:00:00Z", Closes: "2017-01-01T12:00:00Z"}
	text := string(in.AppendText(nil))
	if text != "policy=noon-to-noon window=linear:-12h:24h leap=2016-12-31T23:59:60Z delta=1 opens=2016-12-31T12:00:00Z closes=2017-01-01T12:00:00Z" {
		t.Fatalf("text %q", text)
	}
	if len(text) > SmearInfoRequestLen-4 {
		t.Fatalf("%d bytes do not fit the request", len(text))
	}
	out, err := ParseSmearInfo(append([]byte(text), 0, 0, 0))
	if err != nil || out != in || !out.Smears() {
		t.Fatalf("parsed %+v, %v", out, err)
	}
	step, err := ParseSmearInfo([]byte("policy=step window=step future=yes"))
	if err != nil || step.Smears() || step.Leap != "" {
		t.Fatalf("step: %+v %v", step, err)
	}
	for _, bad := range []string{"", "window=step", "policy=step", "policy=step window", "policy=step window=step delta=2",
		"policy=\x01 window=step", strings.Repeat("\x00", 8)} {
		if _, err := ParseSmearInfo([]byte(bad)); err != ErrSmearInfo {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestFindExtension(t *testing.T) {
	p := packet(4, ext(0x0104, 16, 16), ext(ExtSmearInfo, 32, 32), mac(20))
	if start, n, ok := FindExtension(p, ExtSmearInfo); !ok || start != 64 || n != 32 {
		t.Fatalf("found %d %d %v", start, n, ok)
	}
	if _, _, ok := FindExtension(p, 0x0204); ok {
		t.Error("found a field that is not there")
	}
	if _, _, ok := FindExtension(packet(3, mac(20)), ExtSmearInfo); ok {
		t.Error("found a field in an NTPv3 packet")
	}
	if _, _, ok := FindExtension(append(packet(4, ext(ExtSmearInfo, 16, 16)), 1, 2), ExtSmearInfo); ok {
		t.Error("found a field in a malformed packet")
	}
}

// FuzzHeaderV5: any 48 bytes decode and re-encode to themselves (the version
// bits aside), and walking the extension fields never panics and never
// reads beyond the packet.
func FuzzHeaderV5(f *testing.F) {
	f.Add(v5Request())
	f.Add(make([]byte, HeaderLen))
	f.Add(append(v5Request(), 0xf5, 0x01, 0, 4))
	f.Add(append(v5Request(), 0xf5, 0x01, 0xff, 0xff))
	f.Fuzz(func(t *testing.T, b []byte) {
		var h HeaderV5
		if err := h.Decode(b); (err == nil) != (len(b) >= HeaderLen) {
			t.Fatalf("Decode(%d bytes) = %v", len(b), err)
		}
		if len(b) < HeaderLen {
			return
		}
		out := make([]byte, HeaderLen)
		if err := h.Encode(out); err != nil {
			t.Fatal(err)
		}
		out[0] = out[0]&^0x38 | b[0]&0x38
		if !bytes.Equal(out, b[:HeaderLen]) {
			t.Fatalf("re-encoded %x from %x", out, b[:HeaderLen])
		}
		_ = h.Timescale.String()
		total := HeaderLen
		for rest := b[HeaderLen:]; ; {
			f, r, ok, err := NextExtensionV5(rest)
			if err != nil || !ok {
				break
			}
			if len(f.Value)+4 > len(rest) || len(r) >= len(rest) {
				t.Fatalf("field of %d bytes from %d", len(f.Value), len(rest))
			}
			total += len(rest) - len(r)
			rest = r
		}
		if total > len(b) {
			t.Fatalf("walked %d of %d bytes", total, len(b))
		}
	})
}

// FuzzParseSmearInfo: parsing never panics, and what parses writes back as
// text that parses to the same declaration.
func FuzzParseSmearInfo(f *testing.F) {
	f.Add([]byte("policy=noon-to-noon window=linear:-12h:24h leap=2016-12-31T23:59:60Z delta=1 opens=a closes=b"))
	f.Add([]byte("policy=step window=step\x00\x00"))
	f.Add([]byte("policy==x window=y synthetic=1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		i, err := ParseSmearInfo(b)
		if err != nil {
			return
		}
		back, err := ParseSmearInfo(i.AppendText(nil))
		if err != nil {
			t.Fatalf("%+v writes text that does not parse: %v", i, err)
		}
		if i.Leap == "" {
			// Without a leap the text carries no leap fields.
			i.Delta, i.Opens, i.Closes, i.Synthetic = 0, "", "", false
		}
		if back != i {
			t.Fatalf("%+v came back as %+v", i, back)
		}
	})
}

// FuzzRefIDSmear: every reference ID starting with 254 reads as an offset
// that writes back to the same reference ID.
func FuzzRefIDSmear(f *testing.F) {
	f.Add(uint32(0xfe800000))
	f.Add(uint32(0xfe7fffff))
	f.Add(uint32(0x7f7f01ff))
	f.Fuzz(func(t *testing.T, r uint32) {
		d, ok := SmearFromRefID(r)
		if ok != (r>>24 == 254) {
			t.Fatalf("%#x: ok %v", r, ok)
		}
		if ok && RefIDFromSmear(d) != r {
			t.Fatalf("%#x -> %v -> %#x", r, d, RefIDFromSmear(d))
		}
	})
}
