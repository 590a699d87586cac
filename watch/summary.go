package watch

import (
	"slices"
	"time"

	"github.com/leapsmear/leapsmear/client"
)

// Summary is what a watch found: each server's verdict and the fleet
// spread. It is a value to compute with: instants are time.Time, lengths
// time.Duration; package watch/report renders it (text, JSON, chart).
type Summary struct {
	// Servers has one entry per server, in the record's order.
	Servers []ServerSummary
	// Spread is the fleet spread. When Spread.Rounds is 0 no round
	// compared two servers, and its other fields mean nothing.
	Spread SpreadResult
	// Mixed, when not nil, says that the servers that answered mix leap
	// smears as they declare them (client.CheckSources): a client should
	// not use them together.
	Mixed error
	// Rounds is how many rounds the watch made, Every its poll interval.
	Rounds int
	Every  time.Duration
	// Start and End are the first and last rounds' instants; zero when no
	// round was made.
	Start, End time.Time
}

// ServerSummary is what one server did and how it answered.
type ServerSummary struct {
	// Server is the address as given, Address as resolved ("" when the
	// record does not say).
	Server, Address string
	// Result is Classify's verdict on the server's answers. When its Class
	// is ClassUnknown (fewer than MinPoints answers) nothing was measured:
	// its other fields are zero and mean nothing (see Measured).
	Result
	// LeapIndicators lists the distinct leap indicators the server sent, in
	// increasing order (a stepping server announces the leap with 1 or 2
	// before it; a smearing one never does). Empty when it never answered.
	LeapIndicators []uint8
	// Answered and Lost count the rounds in which the server answered and
	// those in which it did not.
	Answered, Lost int
	// Err is the last error of an exchange, if any.
	Err error
	// Declared is what the server declared about leap smearing
	// (Record.Declared): SmearUnknown when it never said.
	Declared client.SmearDeclaration
}

// Measured reports whether the server answered often enough for its Result
// (total offset, rate, window) to mean something.
func (s ServerSummary) Measured() bool { return s.Class != ClassUnknown }

// SpreadBetween returns the names of the two servers of the fleet spread,
// and false when no round compared two servers.
func (s Summary) SpreadBetween() (a, b string, ok bool) {
	if s.Spread.Rounds == 0 {
		return "", "", false
	}
	return s.Servers[s.Spread.A].Server, s.Servers[s.Spread.B].Server, true
}

// Summarize classifies every server of a record and measures the fleet
// spread. It is a pure function of the record and the options.
func Summarize(rec *Record, opt Options, sopt SpreadOptions) Summary {
	s := Summary{Rounds: len(rec.Rounds), Every: rec.Every, Servers: make([]ServerSummary, len(rec.Servers))}
	if n := len(rec.Rounds); n > 0 {
		s.Start, s.End = rec.Rounds[0].At, rec.Rounds[n-1].At
	}
	for i, server := range rec.Servers {
		ss := ServerSummary{Server: server, Result: Classify(rec.Series(i), opt), LeapIndicators: []uint8{}}
		if i < len(rec.Addrs) {
			ss.Address = rec.Addrs[i]
		}
		for _, rd := range rec.Rounds {
			smp := rd.Samples[i]
			if smp.Answered {
				ss.Answered++
				if !slices.Contains(ss.LeapIndicators, smp.Leap) {
					ss.LeapIndicators = append(ss.LeapIndicators, smp.Leap)
				}
			} else {
				ss.Lost++
			}
			if smp.Err != nil {
				ss.Err = smp.Err
			}
		}
		slices.Sort(ss.LeapIndicators)
		if i < len(rec.Declared) {
			ss.Declared = rec.Declared[i]
		}
		s.Servers[i] = ss
	}
	var names []string
	var decls []client.SmearDeclaration
	for _, ss := range s.Servers {
		if ss.Answered > 0 {
			names, decls = append(names, ss.Server), append(decls, ss.Declared)
		}
	}
	s.Mixed = client.CheckSources(names, decls)
	s.Spread = Align(rec, sopt).Spread()
	return s
}
