package nts

import (
	"strings"
	"testing"
	"time"
)

const hexA = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
const hexB = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000102030405060708090a0b0c0d0e0f"

func TestParseKeyFile(t *testing.T) {
	kf, err := ParseKeyFile([]byte("# fleet keys\nrotate 12h\naccept 3 # a comment\n\nsecret 1 " + hexA + "\nsecret 7 " + hexB + "\nactive 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if kf.Rotation != 12*time.Hour || kf.Accept != 3 || len(kf.Secrets) != 2 || kf.Active != 1 || kf.Secrets[1].ID != 7 || kf.Secrets[1].Key[0] != 0xf0 {
		t.Fatalf("parsed %+v", kf)
	}
	back, err := ParseKeyFile(kf.Format())
	if err != nil || back.Rotation != kf.Rotation || back.Accept != kf.Accept || back.Active != 1 || back.Secrets[1] != kf.Secrets[1] {
		t.Fatalf("Format does not round-trip: %+v %v", back, err)
	}
	// Defaults: 24 h, 7 periods, the last secret active.
	kf, err = ParseKeyFile([]byte("secret 1 " + hexA + "\nsecret 2 " + hexB + "\n"))
	if err != nil || kf.Rotation != DefaultRotation || kf.Accept != DefaultAccept || kf.Active != 2 {
		t.Fatalf("defaults: %+v %v", kf, err)
	}
}

func TestParseKeyFileErrors(t *testing.T) {
	for _, c := range []struct{ file, want string }{
		{"", "no secret"},
		{"rotate 1h\n", "no secret"},
		{"secret 1 abcd\n", "line 1: secret 1: want 64 hexadecimal digits"},
		{"secret 1 " + hexA + "\nsecret 1 " + hexB + "\n", "line 2: secret 1 given twice"},
		{"secret 256 " + hexA + "\n", "line 1: secret ID"},
		{"secret 1 " + hexA + "\nactive 2\n", "active secret 2 is not listed"},
		{"rotate 10s\nsecret 1 " + hexA + "\n", "line 1: rotate"},
		{"rotate 1h\nrotate 2h\n", "line 2: rotate given twice"},
		{"accept -1\n", "line 1: want: accept N"},
		{"accept 65\n", "line 1: want: accept N"},
		{"secrets 1 " + hexA + "\n", `line 1: unknown directive "secrets"`},
		{"secret 1 " + hexA + " extra\n", "line 1: want: secret ID HEX"},
		{strings.Repeat("#", maxKeyFile+1), "more than"},
	} {
		_, err := ParseKeyFile([]byte(c.file))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.file, err, c.want)
		}
	}
}

func TestRingsAgree(t *testing.T) {
	kf, err := ParseKeyFile([]byte("rotate 1h\naccept 1\nsecret 1 " + hexA + "\nsecret 2 " + hexB + "\nactive 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := kf.Ring(fixedNow + 10)
	b, _ := kf.Ring(fixedNow + 3599)
	if a.SealKeyID() != b.SealKeyID() || a.Period() != b.Period() {
		t.Fatal("two instants of one period give different rings")
	}
	c, _ := kf.Ring(fixedNow + 3600)
	if c.SealKeyID() == a.SealKeyID() || c.Period() != a.Period()+1 {
		t.Fatal("the next period seals with the same key")
	}
	// Both secrets open: periods p-1, p, p+1 of each.
	if a.Len() != 6 {
		t.Errorf("%d keys open cookies, want 6", a.Len())
	}
	// Negative instants round down.
	n, _ := kf.Ring(-1)
	if n.Period() != -1 || n.Expires() != 0 {
		t.Errorf("ring at -1 s: period %d expires %d", n.Period(), n.Expires())
	}
}
