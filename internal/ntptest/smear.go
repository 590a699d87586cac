package ntptest

import (
	"testing"

	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/smear"
)

// Smear returns the smear of the policy named policy (a preset or a spec
// smear.Parse takes) over table: what a server with that policy and table
// serves. It fails the test when the policy does not parse or does not fit
// the table.
func Smear(t testing.TB, table *leap.Table, policy string) *smear.Smear {
	t.Helper()
	p, err := smear.Parse(policy)
	if err != nil {
		t.Fatal(err)
	}
	s, err := smear.New(table, p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
