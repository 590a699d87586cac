package leap

import (
	"fmt"
	"time"
)

// ProblemKind says what is wrong with a table. Kinds are ordered worst
// first.
type ProblemKind int

// Problem kinds, worst first.
const (
	// Unverified: the table's checksum did not match, or it could not be
	// corroborated (Table.Verification says why).
	Unverified ProblemKind = iota
	// Expired: the table's expiry has passed; leap seconds announced since
	// may be missing.
	Expired
	// NoExpiry: the table states no expiry, so it is treated as expired.
	NoExpiry
	// ExpiresSoon: the table expires within ExpiresSoonWithin.
	ExpiresSoon
)

// ExpiresSoonWithin is how long before its expiry a table is reported as
// expiring soon.
const ExpiresSoonWithin = 30 * 24 * time.Hour

// Problem is one thing an operator must hear about a table in use.
type Problem struct {
	Kind ProblemKind
	// Table is the table's Source.
	Table string
	// Expires is the table's expiry (Expired, ExpiresSoon) and Left the
	// time from the instant judged to it (ExpiresSoon).
	Expires time.Time
	Left    time.Duration
	// Detail is the table's Verification (Unverified).
	Detail string
}

// String is the problem in one sentence that names the table and the fix;
// every surface (command output, logs, /healthz, the status page) uses it.
func (p Problem) String() string {
	switch p.Kind {
	case Unverified:
		return fmt.Sprintf("leap table %s is not verified: %s", p.Table, p.Detail)
	case Expired:
		return fmt.Sprintf("leap table %s expired on %s: it is still used, but leap seconds announced since may be missing; refresh it",
			p.Table, p.Expires.UTC().Format(time.RFC3339))
	case NoExpiry:
		return fmt.Sprintf("leap table %s states no expiry: it is treated as expired, and leap seconds announced after it was made may be missing; refresh it", p.Table)
	case ExpiresSoon:
		return fmt.Sprintf("leap table %s expires on %s, in %d days: refresh it",
			p.Table, p.Expires.UTC().Format(time.RFC3339), int(p.Left.Hours())/24)
	}
	return fmt.Sprintf("leap table %s: problem %d", p.Table, p.Kind)
}

// Problems returns what is wrong with the table at instant at, worst first:
// not verified, expired (or no expiry stated), expiring within
// ExpiresSoonWithin. Judge at on the clock the table serves: the served
// clock, which differs from the host's while replaying or rehearsing.
func (t *Table) Problems(at time.Time) []Problem {
	var ps []Problem
	if !t.Verified {
		ps = append(ps, Problem{Kind: Unverified, Table: t.Source, Detail: t.Verification})
	}
	switch left := t.Expires.Sub(at); {
	case t.Expires.IsZero():
		ps = append(ps, Problem{Kind: NoExpiry, Table: t.Source})
	case t.Expired(at):
		ps = append(ps, Problem{Kind: Expired, Table: t.Source, Expires: t.Expires})
	case left <= ExpiresSoonWithin:
		ps = append(ps, Problem{Kind: ExpiresSoon, Table: t.Source, Expires: t.Expires, Left: left})
	}
	return ps
}
