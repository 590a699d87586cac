package daemon

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/leapsmear/leapsmear/leap"
)

// Severity says how bad a Problem is.
type Severity int

// Severities, worst first.
const (
	// Failing: clients get no usable time, or time that cannot be trusted.
	Failing Severity = iota
	// Stale: the leap table may miss a leap; the server fails a strict
	// health check.
	Stale
	// Warning: worth an operator's attention; the server is healthy.
	Warning
)

// Problem is one thing wrong with a running server, worded for an operator.
type Problem struct {
	Severity Severity
	Text     string
}

// Problems lists what is wrong at the snapshot, worst first (by Severity;
// in this order within one): a host clock that is not synchronised (every
// client rejects LI=3), a table that is not verified, a table that has
// expired or states no expiry (judged on the served clock), a leap announced
// by sources that the table does not have (unknown-leap), a faulty or
// unreadable leap source, an adopted leap, a failed reload, NTS's problems
// (an expired certificate is Failing), a table expiring soon.
func (st Status) Problems() []Problem {
	var ps, later []Problem
	if !st.Synced {
		ps = append(ps, Problem{Failing, "host clock is not synchronised (adjtimex): replies carry LI=3 and stratum 16, which every client rejects"})
	}
	for _, p := range st.TableProblems() {
		switch p.Kind {
		case leap.Unverified:
			ps = append(ps, Problem{Failing, p.String()})
		case leap.Expired, leap.NoExpiry:
			ps = append(ps, Problem{Stale, p.String() + " and send SIGHUP"})
		default:
			later = append(later, Problem{Warning, p.String()})
		}
	}
	ps = append(ps, st.LeapSources.problems()...)
	if st.ReloadError != "" {
		ps = append(ps, Problem{Warning, "the last leap table reload failed, the previous table is served: " + st.ReloadError})
	}
	ps = append(ps, st.ntsProblems()...)
	ps = append(ps, later...)
	// Worst first, here and only here: each source of problems lists its
	// own in any severity.
	slices.SortStableFunc(ps, func(a, b Problem) int { return cmp.Compare(a.Severity, b.Severity) })
	return ps
}

// Health says whether the server is fit to serve: not while any Failing
// problem stands, nor a Stale one unless strict is false. The reason is
// every problem, worst first, one per line; when there is none it sums up
// what is served.
func (st Status) Health(strict bool) (ok bool, reason string) {
	ok = true
	var lines []string
	for _, p := range st.Problems() {
		if p.Severity == Failing || strict && p.Severity == Stale {
			ok = false
		}
		lines = append(lines, p.Text)
	}
	if !ok {
		if strict {
			for i, l := range lines {
				if strings.Contains(l, "expired on") || strings.Contains(l, "states no expiry") {
					lines[i] = l + " (or ?strict=0)"
				}
			}
		}
		return false, strings.Join(lines, "\n")
	}
	t := st.Table
	expiry := "expires " + rfc3339OrNone(t.Expires)
	if st.Expired() {
		expiry = "EXPIRED, ignored by ?strict=0"
	}
	sync := "a synchronised clock"
	if st.SyncAssumed {
		sync = "a clock assumed synchronised (adjtimex says it is not)"
	}
	summary := fmt.Sprintf("ok: serving %s with leap table %s (%s) on %s", st.Smear.Policy().Name, t.Source, expiry, sync)
	return true, strings.Join(append([]string{summary}, lines...), "\n")
}

func rfc3339OrNone(t time.Time) string {
	if t.IsZero() {
		return "not stated"
	}
	return t.UTC().Format(time.RFC3339)
}

// CertWarning is how long before the NTS-KE certificate expires Problems
// warns of it.
const CertWarning = 14 * 24 * time.Hour

// ntsProblems are NTS's: a certificate expired (clients refuse the
// handshake) or expiring within CertWarning, and a failed reload of the
// certificate or the cookie key file. Certificates expire on the host's
// clock, which is what TLS clients compare them with.
func (st Status) ntsProblems() []Problem {
	n := st.NTS
	if n == nil {
		return nil
	}
	var ps []Problem
	switch left := n.CertNotAfter.Sub(st.Host); {
	case n.CertNotAfter.IsZero():
	case left <= 0:
		ps = append(ps, Problem{Failing, fmt.Sprintf("the NTS-KE certificate expired on %s: NTS clients refuse the handshake; install a new one and send SIGHUP", rfc3339OrNone(n.CertNotAfter))})
	case left <= CertWarning:
		ps = append(ps, Problem{Warning, fmt.Sprintf("the NTS-KE certificate expires on %s, in %d days: renew it and send SIGHUP", rfc3339OrNone(n.CertNotAfter), int(left.Hours())/24)})
	}
	if n.ReloadError != "" {
		ps = append(ps, Problem{Warning, "the last reload of the NTS certificate or cookie key file failed, the previous ones are used: " + n.ReloadError})
	}
	return ps
}
