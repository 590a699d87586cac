package client

import (
	"fmt"
	"strings"
	"time"

	"github.com/leapsmear/leapsmear/ntp"
)

// Smearing says whether a server declares that it serves leap-smeared time.
type Smearing int

// What a reply declares.
const (
	// SmearUnknown: the reply says nothing either way (most servers, outside
	// a leap window).
	SmearUnknown Smearing = iota
	// SmearNo: the server declares time that is not smeared (a leapsmear
	// server with the step policy; an NTPv5 reply in UTC or TAI).
	SmearNo
	// SmearYes: the server declares smeared time (a leapsmear smearing
	// policy; a leap-smear reference ID; an NTPv5 reply in leap-smeared UTC).
	SmearYes
)

// String returns "unknown", "no" or "yes".
func (s Smearing) String() string {
	switch s {
	case SmearNo:
		return "no"
	case SmearYes:
		return "yes"
	}
	return "unknown"
}

// SmearDeclaration is what one reply declares about leap smearing, without
// waiting for a leap: the evidence, strongest first, is an NTPv5 reply's
// timescale, a leapsmear server's declaration (Options.SmearInfo), and a
// leap-smear reference ID (draft-stenn-ntp-leap-smear-refid's 254.x.y.z
// with the offset, or chrony's 127.127.1.255), which servers send only while
// their smear offset is not zero.
type SmearDeclaration struct {
	Smearing Smearing
	// Evidence words what declared it ("leapsmear policy noon-to-noon",
	// "reference ID 254.240.0.0 (leap smear, offset -0.25 s)", ...); empty
	// when nothing did.
	Evidence string
	// Offset is the smear offset a draft reference ID carries (served minus
	// true UTC), when HasOffset.
	Offset    time.Duration
	HasOffset bool
	// Info is a leapsmear server's declaration: its policy and next window.
	Info *ntp.SmearInfo
}

// Smear returns what the reply declares about leap smearing.
func (r *Response) Smear() SmearDeclaration {
	var d SmearDeclaration
	h := r.Header
	if r.V5 != nil {
		d.Smearing, d.Evidence = SmearNo, "NTPv5 timescale "+r.Timescale.String()
		if r.Timescale == ntp.TimescaleSmeared {
			d.Smearing, d.Evidence = SmearYes, "NTPv5 timescale leap-smeared UTC"
		}
		return d
	}
	var refid string
	if !h.IsKiss() && h.Stratum < ntp.StratumUnsynchronised {
		if off, ok := ntp.SmearFromRefID(h.ReferenceID); ok {
			d.Offset, d.HasOffset = off, true
			refid = fmt.Sprintf("reference ID %s (leap smear in progress, offset %+.6f s)", ntp.FormatRefID(h.ReferenceID, 2), off.Seconds())
		} else if h.ReferenceID == ntp.RefIDChronySmooth {
			refid = "reference ID 127.127.1.255 (chrony serving smoothed time)"
		}
	}
	if i := r.SmearInfo; i != nil {
		d.Info = i
		d.Smearing, d.Evidence = SmearNo, "leapsmear policy "+i.Policy+" (no smear)"
		if i.Smears() {
			d.Smearing, d.Evidence = SmearYes, "leapsmear policy "+i.Policy+", window "+i.Window
		}
		if refid != "" {
			d.Evidence += "; " + refid
		}
		return d
	}
	if refid != "" {
		d.Smearing, d.Evidence = SmearYes, refid
	}
	return d
}

// CheckSources says whether a client using all of these servers together
// would mix leap smears: it returns an error naming them when some declare
// smeared time and others do not (or declare nothing: a server that does not
// say it smears is taken not to), or when smearing leapsmear servers declare
// different policies or windows. Mixed sources disagree by up to a second
// around a leap, and a client may apply the leap twice. names and decls go
// together; nil means no mix is visible.
func CheckSources(names []string, decls []SmearDeclaration) error {
	var smearing, plain []string
	for i, d := range decls {
		switch d.Smearing {
		case SmearYes:
			smearing = append(smearing, fmt.Sprintf("%s (%s)", names[i], d.Evidence))
		case SmearNo:
			plain = append(plain, fmt.Sprintf("%s (%s)", names[i], d.Evidence))
		default:
			plain = append(plain, names[i]+" (declares nothing)")
		}
	}
	if len(smearing) > 0 && len(plain) > 0 {
		return fmt.Errorf("the servers mix leap-smeared and unsmeared time: %s smear; %s do not: a client using them together "+
			"sees them disagree by up to a second around a leap and may apply it twice", strings.Join(smearing, ", "), strings.Join(plain, ", "))
	}
	// Smearing leapsmear servers must smear alike.
	var first *ntp.SmearInfo
	firstName := ""
	for i, d := range decls {
		if d.Smearing != SmearYes || d.Info == nil {
			continue
		}
		if first == nil {
			first, firstName = d.Info, names[i]
			continue
		}
		if d.Info.Window != first.Window || d.Info.Leap != first.Leap || d.Info.Opens != first.Opens || d.Info.Closes != first.Closes {
			return fmt.Errorf("the servers smear differently: %s %s, and %s %s: they disagree by up to a second around a leap",
				firstName, describe(first), names[i], describe(d.Info))
		}
	}
	return nil
}

// describe words a declaration for CheckSources.
func describe(i *ntp.SmearInfo) string {
	s := "smears by " + i.Policy + " (" + i.Window + ")"
	if i.Leap != "" {
		s += " from " + i.Opens + " to " + i.Closes + " for the leap " + i.Leap
	}
	return s
}
