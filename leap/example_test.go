package leap_test

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/leapsmear/leapsmear/leap"
)

func ExampleTable_OffsetAt() {
	t := leap.Default()
	for _, at := range []string{"1972-06-30T23:59:59Z", "1972-07-01T00:00:00Z", "2016-12-31T23:59:59Z", "2017-01-01T00:00:00Z"} {
		when, _ := time.Parse(time.RFC3339, at)
		fmt.Printf("%s TAI-UTC %d s\n", at, t.OffsetAt(when))
	}
	// Output:
	// 1972-06-30T23:59:59Z TAI-UTC 10 s
	// 1972-07-01T00:00:00Z TAI-UTC 11 s
	// 2016-12-31T23:59:59Z TAI-UTC 36 s
	// 2017-01-01T00:00:00Z TAI-UTC 37 s
}

func ExampleParseIERS() {
	// A leap-seconds.list cut down to its first three data lines, without
	// its #h checksum line.
	const list = `#$	3676924800
#@	3991593600
2272060800	10	# 1 Jan 1972
2287785600	11	# 1 Jul 1972
2303683200	12	# 1 Jan 1973
`
	// Without its #h line it is refused: it was cut short or edited ...
	_, err := leap.ParseIERS(strings.NewReader(list), "short.list", leap.ParseOptions{})
	fmt.Println(err, "-", errors.Is(err, leap.ErrNoChecksum))
	// ... unless it is accepted unverified.
	t, err := leap.ParseIERS(strings.NewReader(list), "short.list", leap.ParseOptions{AcceptUnverified: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("verified:", t.Verified, "-", t.Verification)
	fmt.Println("expires:", t.Expires.Format(time.DateOnly))
	for _, e := range t.Events {
		fmt.Println(e)
	}
	// A data line that does not change TAI-UTC by one second is rejected,
	// naming the line.
	_, err = leap.ParseIERS(strings.NewReader(list+"2335219200	14\n"), "short.list", leap.ParseOptions{AcceptUnverified: true})
	fmt.Println(err)
	// Output:
	// leap file short.list: no #h checksum line: the lists of the IERS and the IETF always carry one, so this one was cut short or edited - true
	// verified: false - no #h checksum line accepted by request
	// expires: 2026-06-28
	// 1972-06-30 23:59:60 +1 (TAI-UTC 11)
	// 1972-12-31 23:59:60 +1 (TAI-UTC 12)
	// short.list line 6: TAI-UTC goes from 12 to 14; a leap second changes it by exactly one
}

func ExampleTable_LabelFromTAI() {
	t := leap.Default()
	// TAI 2017-01-01T00:00:37 is UTC 2017-01-01T00:00:00: walk the last
	// seconds of 2016 on the TAI scale.
	end := leap.TAI((time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC).Unix() + 37) * leap.Second)
	for x := end - 2*leap.TAI(leap.Second); x <= end; x += leap.TAI(leap.Second / 2) {
		fmt.Println(t.LabelFromTAI(x))
	}
	// Output:
	// 2016-12-31T23:59:59Z
	// 2016-12-31T23:59:59.5Z
	// 2016-12-31T23:59:60Z
	// 2016-12-31T23:59:60.5Z
	// 2017-01-01T00:00:00Z
}

func ExampleParseRehearsal() {
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	for _, v := range []string{"2026-11-23T15:00:00Z,+1", "now+90s,-1", "2026-11-23T15:00:00Z,+2"} {
		r, err := leap.ParseRehearsal(v, now)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s %+d\n", r.At.Format(time.RFC3339), r.Delta)
	}
	// Output:
	// 2026-11-23T15:00:00Z +1
	// 2026-05-01T10:01:30Z -1
	// rehearsal "2026-11-23T15:00:00Z,+2": leap "+2" must be +1 or -1
}

// Servers whose tables list the same leaps have the same fingerprint, however
// far their expiries differ; a rehearsal leap changes it.
func ExampleTable_Fingerprint() {
	t := leap.Default()
	later := t.Clone()
	later.Expires = later.Expires.AddDate(1, 0, 0)
	fmt.Println(t.Fingerprint() == later.Fingerprint())
	rehearsal, _ := t.WithRehearsal(t.Expires.AddDate(0, -1, 0), 1)
	fmt.Println(t.Fingerprint() == rehearsal.Fingerprint())
	// Output:
	// true
	// false
}
