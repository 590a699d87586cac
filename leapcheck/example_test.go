package leapcheck_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/leapcheck"
)

// Two upstream servers set the leap indicator on 2027-12-31, after the
// built-in table expired (2027-06-28): the table may be stale.
func ExampleCheck() {
	at := time.Date(2027, 12, 31, 12, 0, 0, 0, time.UTC)
	li := leapcheck.EndOfMonth(at, +1) // LI=1 means the end of the current month
	sources := []leapcheck.Observation{
		{Name: "ntp 192.0.2.1:123", Kind: leapcheck.KindNTP, Announces: &li},
		{Name: "ntp 192.0.2.2:123", Kind: leapcheck.KindNTP, Announces: &li},
		{Name: "kernel", Kind: leapcheck.KindKernel, Group: leapcheck.HostGroup},
	}
	r := leapcheck.Check(leap.Default(), at, sources, leapcheck.Options{})
	fmt.Println(r.Verdict, r.Leap, r.Leap.Effective().Format(time.RFC3339))
	fmt.Println("adoptable with a quorum of 2:", r.Adoptable(2))
	fmt.Println("adoptable with a quorum of 3:", r.Adoptable(3))
	// Output:
	// unknown-leap 2027-12-31 +1 2028-01-01T00:00:00Z
	// adoptable with a quorum of 2: [2027-12-31 +1]
	// adoptable with a quorum of 3: []
}

// A server announcing a leap second on a date that the unexpired table
// rules out is named and never followed.
func ExampleCheck_faultySource() {
	at := time.Date(2026, 12, 31, 8, 0, 0, 0, time.UTC)
	li := leapcheck.EndOfMonth(at, +1)
	sources := []leapcheck.Observation{
		{Name: "ntp 192.0.2.1:123", Kind: leapcheck.KindNTP, Announces: &li},
		{Name: "ntp 192.0.2.2:123", Kind: leapcheck.KindNTP},
	}
	r := leapcheck.Check(leap.Default(), at, sources, leapcheck.Options{})
	fmt.Println(r.Verdict, r.Faulty())
	// Output:
	// faulty-source [ntp 192.0.2.1:123]
}

// A source of a report in JSON, by name: the second server could not be
// read.
func ExampleReport_Source() {
	at := time.Date(2026, 12, 31, 8, 0, 0, 0, time.UTC)
	sources := []leapcheck.Observation{
		{Name: "ntp 192.0.2.1:123", Kind: leapcheck.KindNTP},
		{Name: "ntp 192.0.2.2:123", Kind: leapcheck.KindNTP, Err: errors.New("no answer within 5s")},
	}
	j := leapcheck.Check(leap.Default(), at, sources, leapcheck.Options{}).Report()
	s, ok := j.Source("ntp 192.0.2.2:123")
	fmt.Println(ok, s.Kind, s.OK, *s.Error)
	_, ok = j.Source("ntp 192.0.2.3:123")
	fmt.Println(ok)
	// Output:
	// true ntp false no answer within 5s
	// false
}
