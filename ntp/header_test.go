package ntp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

// A server reply laid out by hand from RFC 5905 figure 8: LI 0, VN 4, mode 4,
// stratum 1, poll 3, precision -24 (0xe8), root delay 0.5 s (0x00008000),
// root dispersion 1.25 s (0x00014000), refid "GPS\0", then the four
// timestamps.
const replyHex = "24" + "01" + "03" + "e8" +
	"00008000" + "00014000" + "47505300" +
	"e7e9b2ff00000000" + // reference 2023-04-19T00:23:27Z
	"e7e9b30080000000" + // origin, half a second
	"e7e9b30140000000" + // receive, a quarter
	"e7e9b301c0000000" // transmit, three quarters

func TestDecodeKnownPacket(t *testing.T) {
	b, err := hex.DecodeString(replyHex)
	if err != nil {
		t.Fatal(err)
	}
	var h Header
	if err := h.Decode(b); err != nil {
		t.Fatal(err)
	}
	want := Header{
		Leap: LeapNone, Version: 4, Mode: ModeServer, Stratum: 1, Poll: 3, Precision: -24,
		RootDelay: 0x8000, RootDispersion: 0x14000, ReferenceID: refID('G', 'P', 'S', 0),
		Reference: MakeTimestamp(0xe7e9b2ff, 0),
		Origin:    MakeTimestamp(0xe7e9b300, 0x80000000),
		Receive:   MakeTimestamp(0xe7e9b301, 0x40000000),
		Transmit:  MakeTimestamp(0xe7e9b301, 0xc0000000),
	}
	if h != want {
		t.Fatalf("decoded\n%+v\nwant\n%+v", h, want)
	}
	if h.RootDelay.Duration() != 500*time.Millisecond || h.RootDispersion.Duration() != 1250*time.Millisecond {
		t.Errorf("root delay %s, dispersion %s", h.RootDelay.Duration(), h.RootDispersion.Duration())
	}
	if got := h.Transmit.Sub(h.Receive); got != 500*time.Millisecond {
		t.Errorf("transmit - receive = %s", got)
	}
	// 0xe7e9b301 = 3890852609 s after 1900 = POSIX 1681863809 = 2023-04-19T00:23:29Z.
	if got := h.Transmit.Time(time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)); !got.Equal(time.Date(2023, 4, 19, 0, 23, 29, 750_000_000, time.UTC)) {
		t.Errorf("transmit time %s", got)
	}
	out := make([]byte, HeaderLen)
	if err := h.Encode(out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, b) {
		t.Errorf("re-encoded\n%x\nwant\n%x", out, b)
	}
}

func TestHeaderBitFields(t *testing.T) {
	// Every combination of the first byte decodes to its three fields and back.
	for first := range 256 {
		b := make([]byte, HeaderLen)
		b[0] = byte(first)
		var h Header
		if err := h.Decode(b); err != nil {
			t.Fatal(err)
		}
		if h.Leap != uint8(first>>6) || h.Version != uint8(first>>3&7) || h.Mode != uint8(first&7) {
			t.Fatalf("byte %#02x decoded as LI %d VN %d mode %d", first, h.Leap, h.Version, h.Mode)
		}
		out := make([]byte, HeaderLen)
		if err := h.Encode(out); err != nil || out[0] != byte(first) {
			t.Fatalf("byte %#02x re-encoded as %#02x (%v)", first, out[0], err)
		}
	}
	// Signed poll and precision.
	b := make([]byte, HeaderLen)
	b[2], b[3] = 0xfa, 0x80
	var h Header
	_ = h.Decode(b)
	if h.Poll != -6 || h.Precision != -128 {
		t.Errorf("poll %d precision %d, want -6 -128", h.Poll, h.Precision)
	}
}

func TestHeaderRoundTripRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	buf := make([]byte, HeaderLen+8)
	for range 100_000 {
		h := Header{
			Leap: uint8(r.IntN(4)), Version: uint8(r.IntN(8)), Mode: uint8(r.IntN(8)),
			Stratum: uint8(r.Uint32()), Poll: int8(r.Uint32()), Precision: int8(r.Uint32()),
			RootDelay: Short(r.Uint32()), RootDispersion: Short(r.Uint32()), ReferenceID: r.Uint32(),
			Reference: Timestamp(r.Uint64()), Origin: Timestamp(r.Uint64()),
			Receive: Timestamp(r.Uint64()), Transmit: Timestamp(r.Uint64()),
		}
		copy(buf[HeaderLen:], "trailer!")
		if err := h.Encode(buf); err != nil {
			t.Fatal(err)
		}
		if string(buf[HeaderLen:]) != "trailer!" {
			t.Fatal("Encode wrote past the header")
		}
		var got Header
		if err := got.Decode(buf); err != nil {
			t.Fatal(err)
		}
		if got != h {
			t.Fatalf("round trip\n%+v\n%+v", h, got)
		}
	}
}

func TestHeaderErrors(t *testing.T) {
	var h Header
	for _, n := range []int{0, 1, 47} {
		if err := h.Decode(make([]byte, n)); !errors.Is(err, ErrShort) {
			t.Errorf("Decode(%d bytes) = %v", n, err)
		}
		if err := h.Encode(make([]byte, n)); !errors.Is(err, ErrShort) {
			t.Errorf("Encode(%d bytes) = %v", n, err)
		}
	}
	if err := h.Decode(nil); !errors.Is(err, ErrShort) {
		t.Errorf("Decode(nil) = %v", err)
	}
	for _, bad := range []Header{{Leap: 4}, {Version: 8}, {Mode: 8}, {Leap: 255, Version: 255, Mode: 255}} {
		b := bytes.Repeat([]byte{0xaa}, HeaderLen)
		if err := bad.Encode(b); !errors.Is(err, ErrField) {
			t.Errorf("Encode(%+v) = %v, want ErrField", bad, err)
		}
		if !bytes.Equal(b, bytes.Repeat([]byte{0xaa}, HeaderLen)) {
			t.Errorf("Encode(%+v) wrote into the buffer despite the error", bad)
		}
	}
}

func TestHeaderNoAllocation(t *testing.T) {
	b, _ := hex.DecodeString(replyHex)
	out := make([]byte, HeaderLen)
	short := make([]byte, 10)
	var h Header
	var sink error
	allocs := testing.AllocsPerRun(1000, func() {
		sink = h.Decode(b)
		sink = h.Encode(out)
		sink = h.Decode(short) // error paths too
		bad := h
		bad.Mode = 9
		sink = bad.Encode(out)
		_, _, sink = Trailer(b)
		_ = h.IsKiss()
		_ = KissCode(KissRATE)
		_ = LeapName(h.Leap)
	})
	if allocs != 0 {
		t.Errorf("Decode/Encode/Trailer allocate %v times", allocs)
	}
	_ = sink
}

func TestIsKissAndSynchronised(t *testing.T) {
	for _, c := range []struct {
		h            Header
		kiss, synced bool
	}{
		{Header{Mode: ModeServer, Stratum: 0, Leap: LeapUnsynchronised}, true, false},
		{Header{Mode: ModeServer, Stratum: 0}, true, false},
		{Header{Mode: ModeClient, Stratum: 0}, false, false},
		{Header{Mode: ModeServer, Stratum: 1}, false, true},
		{Header{Mode: ModeServer, Stratum: 15, Leap: LeapInsert}, false, true},
		{Header{Mode: ModeServer, Stratum: 16}, false, false},
		{Header{Mode: ModeServer, Stratum: 2, Leap: LeapUnsynchronised}, false, false},
	} {
		if c.h.IsKiss() != c.kiss || c.h.Synchronised() != c.synced {
			t.Errorf("%+v: kiss %v synced %v, want %v %v", c.h, c.h.IsKiss(), c.h.Synchronised(), c.kiss, c.synced)
		}
	}
	names := map[uint8]string{0: "Normal", 1: "Insert second", 2: "Delete second", 3: "Not synchronised", 4: "Invalid"}
	for li, want := range names {
		if got := LeapName(li); got != want {
			t.Errorf("LeapName(%d) = %q, want %q", li, got, want)
		}
	}
}
