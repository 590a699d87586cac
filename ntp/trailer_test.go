package ntp

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
)

// packet returns a header of the given version followed by parts.
func packet(version uint8, parts ...[]byte) []byte {
	b := make([]byte, HeaderLen)
	h := Header{Version: version, Mode: ModeClient}
	_ = h.Encode(b)
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// ext returns an extension field of type typ and total length n (which the
// length field states as claim, normally n).
func ext(typ uint16, n, claim int) []byte {
	b := make([]byte, n)
	binary.BigEndian.PutUint16(b, typ)
	binary.BigEndian.PutUint16(b[2:], uint16(claim))
	for i := 4; i < n; i++ {
		b[i] = byte(i)
	}
	return b
}

// mac returns a key ID and a digest of n-4 bytes.
func mac(n int) []byte {
	b := make([]byte, n)
	binary.BigEndian.PutUint32(b, 42)
	for i := 4; i < n; i++ {
		b[i] = 0xee
	}
	return b
}

func TestTrailer(t *testing.T) {
	for _, c := range []struct {
		name     string
		pkt      []byte
		ext, mac int
		err      error
	}{
		{"plain", packet(4), 0, 0, nil},
		{"plain v3", packet(3), 0, 0, nil},
		{"short", packet(4)[:47], 0, 0, ErrShort},
		{"crypto-NAK", packet(4, make([]byte, 4)), 0, 4, nil},
		{"crypto-NAK v3", packet(3, make([]byte, 4)), 0, 4, nil},
		{"4 bytes not zero", packet(4, []byte{0, 0, 0, 1}), 0, 0, ErrTrailer},
		{"MD5 MAC", packet(4, mac(20)), 0, 20, nil},
		{"SHA1 MAC", packet(4, mac(24)), 0, 24, nil},
		{"v3 MD5 MAC", packet(3, mac(20)), 0, 20, nil},
		{"v3 SHA512 MAC", packet(3, mac(68)), 0, 68, nil},
		{"v3 MS-SNTP extended", packet(3, mac(72)), 0, 72, nil},
		{"v3 too long", packet(3, mac(76)), 0, 0, ErrTrailer},
		{"v3 16 bytes", packet(3, mac(16)), 0, 0, ErrTrailer},
		{"one field", packet(4, ext(0x0104, 16, 16)), 1, 0, nil},
		{"one long field", packet(4, ext(0x0104, 28, 28)), 1, 0, nil},
		{"field and MD5 MAC", packet(4, ext(0x0204, 16, 16), mac(20)), 1, 20, nil},
		{"fields and SHA1 MAC", packet(4, ext(0x0204, 16, 16), ext(0x0104, 64, 64), mac(24)), 2, 24, nil},
		{"three fields", packet(4, ext(1, 16, 16), ext(2, 16, 16), ext(3, 1024, 1024)), 3, 0, nil},
		{"8 bytes", packet(4, make([]byte, 8)), 0, 0, ErrTrailer},
		{"12 bytes", packet(4, make([]byte, 12)), 0, 0, ErrTrailer},
		{"odd length", packet(4, make([]byte, 17)), 0, 0, ErrTrailer},
		{"1 byte", packet(4, []byte{0}), 0, 0, ErrTrailer},
		{"length zero", packet(4, ext(1, 32, 0)), 0, 0, ErrTrailer},
		{"length below 16", packet(4, ext(1, 32, 12)), 0, 0, ErrTrailer},
		{"length not multiple of 4", packet(4, ext(1, 32, 18)), 0, 0, ErrTrailer},
		{"length beyond packet", packet(4, ext(1, 32, 36)), 0, 0, ErrTrailer},
		{"length 65535", packet(4, ext(1, 32, 65535)), 0, 0, ErrTrailer},
		{"field then 12 bytes", packet(4, ext(1, 16, 16), make([]byte, 12)), 0, 0, ErrTrailer},
		{"field then bad field", packet(4, ext(1, 16, 16), ext(2, 32, 64)), 0, 0, ErrTrailer},
		{"MAC then field", packet(4, mac(20), ext(2, 16, 16)), 0, 0, ErrTrailer},
	} {
		e, m, err := Trailer(c.pkt)
		if !errors.Is(err, c.err) || e != c.ext || m != c.mac {
			t.Errorf("%s: Trailer = %d, %d, %v; want %d, %d, %v", c.name, e, m, err, c.ext, c.mac, c.err)
		}
	}
}

// TestTrailerRandomValid builds random well-formed trailers and checks that
// Trailer reports exactly what was put in.
func TestTrailerRandomValid(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for range 50_000 {
		n := r.IntN(5)
		macLen := []int{0, 0, 20, 24}[r.IntN(4)]
		parts := make([][]byte, 0, n+1)
		for i := range n {
			size := 16 + 4*r.IntN(30)
			if i == n-1 && macLen == 0 && (size == 20 || size == 24) {
				size = 28 // a last field of a MAC's length would read as a MAC (RFC 7822)
			}
			parts = append(parts, ext(uint16(r.Uint32()), size, size))
		}
		if macLen > 0 {
			parts = append(parts, mac(macLen))
		}
		e, m, err := Trailer(packet(4, parts...))
		if err != nil || e != n || m != macLen {
			t.Fatalf("%d fields and a %d-byte MAC: Trailer = %d, %d, %v", n, macLen, e, m, err)
		}
	}
}
