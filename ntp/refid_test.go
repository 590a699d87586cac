package ntp

import (
	"crypto/md5"
	"encoding/binary"
	"errors"
	"math/big"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

func TestKissCodes(t *testing.T) {
	for code, id := range map[string]uint32{
		"ACST": KissACST, "AUTH": KissAUTH, "AUTO": KissAUTO, "BCST": KissBCST, "CRYP": KissCRYP,
		"DENY": KissDENY, "DROP": KissDROP, "RSTR": KissRSTR, "INIT": KissINIT, "MCST": KissMCST,
		"NKEY": KissNKEY, "RATE": KissRATE, "RMOT": KissRMOT, "STEP": KissSTEP, "NTSN": KissNTSN,
	} {
		if got := KissCode(id); got != code {
			t.Errorf("KissCode(%#x) = %q, want %q", id, got, code)
		}
		if string(binary.BigEndian.AppendUint32(nil, id)) != code {
			t.Errorf("%s constant is %#x", code, id)
		}
		if got, err := RefIDFromString(code); err != nil || got != id {
			t.Errorf("RefIDFromString(%q) = %#x, %v", code, got, err)
		}
	}
	if KissRATE != 0x52415445 {
		t.Errorf("KissRATE = %#x, want 0x52415445", KissRATE)
	}
	for id, want := range map[uint32]string{
		0x58595a00: "XYZ",        // experimental, zero-filled
		0x41000000: "A",          // one letter
		0x00000000: "0x00000000", // empty
		0x0000ffff: "0x0000ffff",
		0x41004200: "0x41004200", // zero fill must run to the end
		0x41202020: "0x41202020", // spaces are not letters
		0x7f414141: "0x7f414141",
		0xc0a80001: "0xc0a80001",
	} {
		if got := KissCode(id); got != want {
			t.Errorf("KissCode(%#x) = %q, want %q", id, got, want)
		}
	}
}

func TestRefIDFromString(t *testing.T) {
	for s, want := range map[string]uint32{"GPS": 0x47505300, "LOCL": 0x4c4f434c, "X": 0x58000000, "PPS": 0x50505300} {
		got, err := RefIDFromString(s)
		if err != nil || got != want {
			t.Errorf("RefIDFromString(%q) = %#x, %v; want %#x", s, got, err, want)
		}
		if FormatRefID(got, 1) != s || FormatRefID(got, 0) != s {
			t.Errorf("FormatRefID(%#x, 1) = %q", got, FormatRefID(got, 1))
		}
	}
	for _, s := range []string{"", "TOOLONG", "GPS ", "a\x00b", "é", "\x7f"} {
		if _, err := RefIDFromString(s); !errors.Is(err, ErrRefID) {
			t.Errorf("RefIDFromString(%q) = %v, want ErrRefID", s, err)
		}
	}
}

func TestRefIDFromAddr(t *testing.T) {
	for _, c := range []struct {
		addr string
		want uint32
	}{
		{"192.168.1.2", 0xc0a80102},
		{"::ffff:10.0.0.1", 0x0a000001},
		{"127.0.0.1", 0x7f000001},
	} {
		if got := RefIDFromAddr(netip.MustParseAddr(c.addr)); got != c.want {
			t.Errorf("RefIDFromAddr(%s) = %#x, want %#x", c.addr, got, c.want)
		}
	}
	a := netip.MustParseAddr("2001:db8::1")
	raw := a.As16()
	sum := md5.Sum(raw[:])
	if got, want := RefIDFromAddr(a), binary.BigEndian.Uint32(sum[:4]); got != want {
		t.Errorf("RefIDFromAddr(%s) = %#x, want %#x", a, got, want)
	}
	// ::1 hashes to MD5(15 zero bytes and a one) = cf404dc806178c245b5b4fe2531e6d8c.
	if got := RefIDFromAddr(netip.IPv6Loopback()); got != 0xcf404dc8 {
		t.Errorf("RefIDFromAddr(::1) = %#x, want 0xcf404dc8", got)
	}
	if got := RefIDFromAddr(netip.Addr{}); got != 0 {
		t.Errorf("RefIDFromAddr(zero) = %#x", got)
	}
	if got := FormatRefID(0xc0a80102, 2); got != "192.168.1.2" {
		t.Errorf("FormatRefID stratum 2 = %q", got)
	}
	if got := FormatRefID(0x7f7f0101, 1); got != "127.127.1.1" { // chronyd's local reference
		t.Errorf("FormatRefID stratum 1 non-ASCII = %q", got)
	}
	if got := FormatRefID(0x7f7f0101, 0); got != "0x7f7f0101" {
		t.Errorf("FormatRefID stratum 0 non-ASCII = %q", got)
	}
	if got := FormatRefID(KissRATE, 3); got != "82.65.84.69" {
		t.Errorf("FormatRefID stratum 3 = %q", got)
	}
}

func TestPrecision(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want int8
	}{
		{-5, -29}, {0, -29}, {1, -29}, {2, -28}, {4, -27},
		{time.Microsecond, -19}, // 2^-20 s = 954 ns is not enough
		{953, -20}, {954, -19},  // 2^-20 s = 953.67 ns
		{time.Millisecond, -9},
		{500 * time.Millisecond, -1}, {500*time.Millisecond + 1, 0},
		{time.Second, 0}, {time.Second + 1, 1}, {2 * time.Second, 1}, {3 * time.Second, 2},
		{1 << 62, 33}, {1<<63 - 1, 34},
	} {
		if got := Precision(c.d); got != c.want {
			t.Errorf("Precision(%d) = %d, want %d", c.d, got, c.want)
		}
	}
	// Property: 2^p s >= d > 2^(p-1) s, checked with exact rationals.
	r := rand.New(rand.NewPCG(17, 18))
	pow := func(p int8) *big.Rat { // 2^p seconds in nanoseconds
		x := big.NewRat(1e9, 1)
		if p >= 0 {
			return x.Mul(x, new(big.Rat).SetInt(new(big.Int).Lsh(big.NewInt(1), uint(p))))
		}
		return x.Quo(x, new(big.Rat).SetInt(new(big.Int).Lsh(big.NewInt(1), uint(-p))))
	}
	for range 100_000 {
		d := time.Duration(r.Int64N(1 << uint(r.IntN(63))))
		if d < 1 {
			continue
		}
		p := Precision(d)
		dr := new(big.Rat).SetInt64(int64(d))
		if pow(p).Cmp(dr) < 0 || pow(p-1).Cmp(dr) >= 0 {
			t.Fatalf("Precision(%d) = %d", d, p)
		}
	}
	for p, want := range map[int8]time.Duration{
		0: time.Second, 1: 2 * time.Second, -1: 500 * time.Millisecond, -20: 954, -29: 2, -30: 1, -32: 0,
		-33: 0, -128: 0, 33: 8589934592 * time.Second, 34: 1<<63 - 1, 127: 1<<63 - 1,
	} {
		if got := PrecisionDuration(p); got != want {
			t.Errorf("PrecisionDuration(%d) = %d, want %d", p, got, want)
		}
	}
}
