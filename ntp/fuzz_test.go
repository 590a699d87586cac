package ntp

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"testing"
	"time"
)

// FuzzDecode: Decode never panics, accepts exactly the inputs of at least 48
// bytes, and whatever it decodes re-encodes to the same 48 bytes.
func FuzzDecode(f *testing.F) {
	reply, _ := hex.DecodeString(replyHex)
	f.Add(reply)
	f.Add(make([]byte, HeaderLen))
	f.Add(bytes.Repeat([]byte{0xff}, HeaderLen+24))
	f.Add([]byte{0x23})
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Header
		err := h.Decode(b)
		if (err == nil) != (len(b) >= HeaderLen) {
			t.Fatalf("Decode(%d bytes) = %v", len(b), err)
		}
		if err != nil {
			return
		}
		out := make([]byte, HeaderLen)
		if err := h.Encode(out); err != nil {
			t.Fatalf("Encode of a decoded header: %v", err)
		}
		if !bytes.Equal(out, b[:HeaderLen]) {
			t.Fatalf("re-encoded\n%x\nfrom\n%x", out, b[:HeaderLen])
		}
		// The timestamps convert back and forth whatever their value.
		for _, ts := range []Timestamp{h.Reference, h.Origin, h.Receive, h.Transmit} {
			if d := int64(TimestampFromUnixNano(ts.UnixNano(0)) - ts); d < -2 || d > 2 {
				t.Fatalf("%#x moved by %d units through nanoseconds", ts, d)
			}
		}
		_ = KissCode(h.ReferenceID)
		_ = FormatRefID(h.ReferenceID, h.Stratum)
	})
}

// FuzzTrailer: Trailer never panics and what it accepts adds up: the fields it
// counts and the MAC fit the packet, and the walk it reports can be replayed.
func FuzzTrailer(f *testing.F) {
	f.Add(packet(4))
	f.Add(packet(4, make([]byte, 4)))
	f.Add(packet(4, mac(20)))
	f.Add(packet(4, ext(0x0104, 16, 16), mac(24)))
	f.Add(packet(4, ext(1, 16, 16), ext(2, 28, 28)))
	f.Add(packet(3, mac(72)))
	f.Add(packet(4, ext(1, 32, 65535)))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, m, err := Trailer(b)
		if err != nil {
			if n != 0 || m != 0 {
				t.Fatalf("error %v with %d fields and a %d-byte MAC", err, n, m)
			}
			return
		}
		switch m {
		case 0, CryptoNAKLen, MACLenMD5, MACLenSHA1:
		default:
			if b[0]>>3&7 > Version3 || m < MACLenMD5 || m > maxV3MACLen {
				t.Fatalf("MAC length %d", m)
			}
		}
		// Replay the walk: n fields of valid lengths end exactly where the MAC starts.
		off := HeaderLen
		for range n {
			l := int(binary.BigEndian.Uint16(b[off+2:]))
			if l < ExtensionMinLen || l%4 != 0 {
				t.Fatalf("accepted a field of length %d", l)
			}
			off += l
		}
		if off+m != len(b) {
			t.Fatalf("%d fields end at %d, MAC %d, packet %d", n, off, m, len(b))
		}
	})
}

// FuzzTimestamp: any instant comes back exactly through a pivot up to 68
// years away, and Sub agrees with the difference of the instants.
func FuzzTimestamp(f *testing.F) {
	f.Add(int64(0), int64(0))
	f.Add(int64(2085978496_000000000), int64(-1))    // 2036-02-07T06:28:16Z
	f.Add(int64(-2208988800_000000000), int64(1e18)) // 1900
	f.Fuzz(func(t *testing.T, ns, gap int64) {
		const maxGap = (1<<31 - 2) * nsPerSec
		gap %= maxGap
		pivot := ns + gap
		if (gap > 0 && pivot < ns) || (gap < 0 && pivot > ns) {
			return // the pivot would overflow int64
		}
		ts := TimestampFromUnixNano(ns)
		if got := ts.UnixNano(pivot); got != ns {
			t.Fatalf("%d through %#x with pivot %d gave %d", ns, ts, pivot, got)
		}
		if d := TimestampFromUnixNano(pivot).Sub(ts); d < 0 && gap > 0 || d > 0 && gap < 0 || d-1 > time.Duration(gap) || d+1 < time.Duration(gap) {
			t.Fatalf("Sub = %d, want %d±1", d, gap)
		}
	})
}
