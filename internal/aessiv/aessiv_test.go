package aessiv

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"testing"

	fbsiv "github.com/facebook/time/ntp/protocol/nts/aessiv"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// RFC 5297 appendix A.1: deterministic, one associated-data component.
func TestRFC5297Deterministic(t *testing.T) {
	key := unhex(t, "fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
	ad := unhex(t, "101112131415161718191a1b1c1d1e1f2021222324252627")
	pt := unhex(t, "112233445566778899aabbccddee")
	want := unhex(t, "85632d07c6e8f37f950acd320a2ecc9340c02b9690c4dc04daef7f6afe5c")
	c, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	s := new(Scratch)
	got := make([]byte, TagSize+len(pt))
	if err := c.Seal(s, got, pt, ad, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Seal = %x\nwant   %x", got, want)
	}
	back := make([]byte, len(pt))
	if err := c.Open(s, back, got, ad, nil); err != nil || !bytes.Equal(back, pt) {
		t.Fatalf("Open = %x, %v", back, err)
	}
}

// Every length of associated data, nonce and plaintext around the block
// boundaries gives facebook/time's output, and opens back.
func TestMatchesFacebookTime(t *testing.T) {
	r := rand.New(rand.NewPCG(5297, 8915))
	s := new(Scratch)
	for range 20 {
		key := randBytes(r, KeySize)
		c, err := New(key)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := fbsiv.NewAESSIV(key)
		if err != nil {
			t.Fatal(err)
		}
		for _, adLen := range []int{0, 1, 15, 16, 17, 48, 100, 231} {
			for _, nLen := range []int{-1, 0, 16, 17} {
				for ptLen := 0; ptLen <= 3*bs+1; ptLen++ {
					checkAgainst(t, c, ref, s, randBytes(r, adLen), nonceOf(r, nLen), randBytes(r, ptLen))
				}
			}
		}
	}
}

func nonceOf(r *rand.Rand, n int) []byte {
	if n < 0 {
		return nil
	}
	return randBytes(r, n)
}

func checkAgainst(t testing.TB, c *Cipher, ref *fbsiv.AESSIV, s *Scratch, ad, nonce, pt []byte) {
	t.Helper()
	comps := [][]byte{ad}
	if nonce != nil {
		comps = append(comps, nonce)
	}
	want, err := ref.Seal(nil, pt, comps...)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, TagSize+len(pt))
	if err := c.Seal(s, got, pt, ad, nonce); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("ad %d nonce %d pt %d: Seal = %x, facebook/time %x", len(ad), len(nonce), len(pt), got, want)
	}
	back := make([]byte, len(pt))
	if err := c.Open(s, back, got, ad, nonce); err != nil || !bytes.Equal(back, pt) {
		t.Fatalf("Open = %x, %v", back, err)
	}
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// Any flipped bit of the ciphertext, associated data or nonce fails to open,
// and the output is zeroed.
func TestOpenRejectsTampering(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	c, _ := New(randBytes(r, KeySize))
	s := new(Scratch)
	ad, nonce, pt := randBytes(r, 40), randBytes(r, 16), randBytes(r, 37)
	ct := make([]byte, TagSize+len(pt))
	if err := c.Seal(s, ct, pt, ad, nonce); err != nil {
		t.Fatal(err)
	}
	out := make([]byte, len(pt))
	for _, buf := range [][]byte{ct, ad, nonce} {
		for i := range len(buf) * 8 {
			buf[i/8] ^= 1 << (i % 8)
			err := c.Open(s, out, ct, ad, nonce)
			buf[i/8] ^= 1 << (i % 8)
			if !errors.Is(err, ErrOpen) {
				t.Fatalf("bit %d flipped: Open = %v", i, err)
			}
			if !bytes.Equal(out, make([]byte, len(out))) {
				t.Fatal("Open left unauthenticated plaintext in dst")
			}
		}
	}
	// Without the nonce component, or with an empty one, it is another message.
	if err := c.Open(s, out, ct, ad, nil); !errors.Is(err, ErrOpen) {
		t.Errorf("Open without the nonce = %v", err)
	}
	if err := c.Open(s, out, ct[:TagSize-1], ad, nonce); !errors.Is(err, ErrOpen) {
		t.Errorf("Open of a short ciphertext = %v", err)
	}
	if err := c.Open(s, out[:1], ct, ad, nonce); !errors.Is(err, ErrBuffer) {
		t.Errorf("Open into a short buffer = %v", err)
	}
	if err := c.Seal(s, ct[:3], pt, ad, nonce); !errors.Is(err, ErrBuffer) {
		t.Errorf("Seal into a short buffer = %v", err)
	}
	if _, err := New(make([]byte, 16)); !errors.Is(err, ErrKeySize) {
		t.Errorf("New(16 bytes) = %v", err)
	}
}

func TestNoAllocation(t *testing.T) {
	c, _ := New(make([]byte, KeySize))
	s := new(Scratch)
	ad, nonce, pt := make([]byte, 200), make([]byte, 16), make([]byte, 100)
	ct := make([]byte, TagSize+len(pt))
	out := make([]byte, len(pt))
	allocs := testing.AllocsPerRun(1000, func() {
		_ = c.Seal(s, ct, pt, ad, nonce)
		_ = c.Open(s, out, ct, ad, nonce)
		ct[0] ^= 1
		_ = c.Open(s, out, ct, ad, nonce)
		ct[0] ^= 1
	})
	if allocs != 0 {
		t.Errorf("Seal and Open allocate %v times", allocs)
	}
}

// FuzzMatchesFacebookTime compares Seal with facebook/time's implementation
// on fuzzed keys, associated data, nonces and plaintexts.
func FuzzMatchesFacebookTime(f *testing.F) {
	f.Add(make([]byte, KeySize), []byte("header"), []byte("nonce-nonce-nonc"), []byte("plain"), true)
	f.Add(make([]byte, KeySize), []byte{}, []byte{}, make([]byte, 48), false)
	f.Fuzz(func(t *testing.T, key, ad, nonce, pt []byte, withNonce bool) {
		if len(key) < KeySize {
			return
		}
		key = key[:KeySize]
		c, err := New(key)
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := fbsiv.NewAESSIV(key)
		if !withNonce {
			nonce = nil
		} else if nonce == nil {
			nonce = []byte{}
		}
		checkAgainst(t, c, ref, new(Scratch), ad, nonce, pt)
	})
}

func BenchmarkSealOpen(b *testing.B) {
	c, _ := New(make([]byte, KeySize))
	s := new(Scratch)
	ad, nonce, pt := make([]byte, 184), make([]byte, 16), make([]byte, 68)
	ct := make([]byte, TagSize+len(pt))
	out := make([]byte, len(pt))
	for b.Loop() {
		_ = c.Seal(s, ct, pt, ad, nonce)
		_ = c.Open(s, out, ct, ad, nonce)
	}
}
