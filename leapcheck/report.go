package leapcheck

import (
	"fmt"
	"time"
)

// AnnouncementReport is a leap second in JSON: Date is the last UTC day
// before it (YYYY-MM-DD, as the --leap flags take it), Effective the
// midnight after it (RFC 3339).
type AnnouncementReport struct {
	Date      string `json:"date"`
	Sign      int    `json:"sign"`
	Effective string `json:"effective"`
}

// String words the announcement as "2027-12-31 +1 2028-01-01T00:00:00Z"
// (date, sign, effective), and a nil one as "".
func (a *AnnouncementReport) String() string {
	if a == nil {
		return ""
	}
	return fmt.Sprintf("%s %+d %s", a.Date, a.Sign, a.Effective)
}

// SourceReport is one source in JSON.
type SourceReport struct {
	Name      string              `json:"name"`
	Kind      string              `json:"kind"`
	OK        bool                `json:"ok"`
	Error     *string             `json:"error"`
	Announces *AnnouncementReport `json:"announces"`
}

// TableReport is the table compared with, in JSON; Expires is null when the
// table states no expiry.
type TableReport struct {
	Source  string  `json:"source"`
	Expires *string `json:"expires"`
	Expired bool    `json:"expired"`
}

// Report is a Result in JSON, the stable contract of "leapsmear leaps
// --json" and of leap_sources in the server's /api/status: exactly these
// keys.
type Report struct {
	At       string              `json:"at"`
	Table    TableReport         `json:"table"`
	Sources  []SourceReport      `json:"sources"`
	Verdict  Verdict             `json:"verdict"`
	Leap     *AnnouncementReport `json:"leap"`
	Problems []string            `json:"problems"`
}

// Source returns the source named name (SourceReport.Name), and whether
// the report has one.
func (r Report) Source(name string) (SourceReport, bool) {
	for _, s := range r.Sources {
		if s.Name == name {
			return s, true
		}
	}
	return SourceReport{}, false
}

func announcementReport(a *Announcement) *AnnouncementReport {
	if a == nil {
		return nil
	}
	return &AnnouncementReport{Date: a.Date(), Sign: a.Sign, Effective: a.Effective().UTC().Format(time.RFC3339)}
}

// Report returns the result in its JSON form.
func (r Result) Report() Report {
	j := Report{
		At:       r.At.UTC().Format(time.RFC3339Nano),
		Table:    TableReport{Source: r.TableSource, Expired: r.TableExpired},
		Sources:  []SourceReport{},
		Verdict:  r.Verdict,
		Leap:     announcementReport(r.Leap),
		Problems: append([]string{}, r.Problems...),
	}
	if !r.TableExpires.IsZero() {
		e := r.TableExpires.UTC().Format(time.RFC3339)
		j.Table.Expires = &e
	}
	for _, o := range r.Sources {
		s := SourceReport{Name: o.Name, Kind: string(o.Kind), OK: o.Err == nil, Announces: announcementReport(o.Announces)}
		if o.Err != nil {
			msg := o.Err.Error()
			s.Error = &msg
		}
		j.Sources = append(j.Sources, s)
	}
	return j
}
