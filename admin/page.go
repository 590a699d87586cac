package admin

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"gonum.org/v1/plot/vg"

	"github.com/leapsmear/leapsmear/daemon"
	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/leapcheck"
	"github.com/leapsmear/leapsmear/plot"
	"github.com/leapsmear/leapsmear/server"
	"github.com/leapsmear/leapsmear/smear"
)

// RefreshSeconds is how often the status page reloads itself.
const RefreshSeconds = 10

//go:embed page.html
var pageHTML string

var pageTemplate = template.Must(template.New("page").Parse(pageHTML))

// page renders the status page, keeping the last chart: it is redrawn when
// the smear changes or "now" has moved by a visible step (at most a minute),
// so that a page load is cheap.
type page struct {
	mu      sync.Mutex
	key     chartKey
	svg     template.HTML
	err     error
	renders int // charts drawn, for tests
}

// chartKey identifies a chart: the smear, the time span and where "now" is
// drawn, in steps of the span's resolution.
type chartKey struct {
	smear  *smear.Smear
	lo, hi leap.TAI
	bucket int64
}

func newPage() *page { return &page{} }

// view is what the template shows.
type view struct {
	R             Report
	Refresh       int
	UTC           string
	Served        string
	Offset        string
	Rate          string
	InWindow      bool
	Expiry        string
	ExpiryClass   string
	Next          *leapView
	Last          *leapView
	Drops         []dropView
	Chart         template.HTML
	ChartCaption  string
	Uptime        string
	Healthy       bool
	HealthLines   []string // the health summary and problems, one a line
	Synced        bool
	Verified      bool
	LastReloadBad bool
	VerdictClass  string // pill class of the leap-source verdict
	Listeners     []listenerView
}

// listenerView is one row of the listeners' table.
type listenerView struct {
	Addr, Policy, Window, V5, Offset, When string
	LI                                     int
	InWindow                               bool
	Received, Replies, RepliesV5, Dropped  uint64
}

type leapView struct {
	Name, Kind, Opens, Closes, When string
}

type dropView struct {
	Reason string
	Count  uint64
}

func (p *page) serve(w http.ResponseWriter, d Daemon) {
	st := d.Status()
	v := p.view(st)
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, v); err != nil {
		http.Error(w, "status page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// Everything is inline: no script, no external asset of any kind.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'")
	_, _ = w.Write(buf.Bytes())
}

func (p *page) view(st daemon.Status) view {
	r := NewReport(st)
	v := view{R: r, Refresh: RefreshSeconds,
		UTC:      leap.Label{Time: st.Label.Time.Truncate(time.Millisecond), Leap: st.Label.Leap}.String(),
		Served:   r.Served.Truncate(time.Millisecond).Format(time.RFC3339Nano),
		Offset:   fmt.Sprintf("%+.3f ms", float64(st.Offset)/1e6),
		Rate:     fmt.Sprintf("%+.3f ppm", st.RatePPM),
		InWindow: st.InWindow, Healthy: r.Healthy, HealthLines: strings.Split(r.Health, "\n"), Synced: st.Synced, Verified: st.Table.Verified,
		Uptime:        human(st.Host.Sub(st.Started)),
		LastReloadBad: st.ReloadError != ""}
	t := st.Table
	switch {
	case t.Expires.IsZero():
		v.Expiry, v.ExpiryClass = "states no expiry (treated as expired)", "bad"
	case st.Expired():
		v.Expiry, v.ExpiryClass = fmt.Sprintf("%s — EXPIRED %s ago", formatTime(t.Expires), human(st.Host.Sub(t.Expires))), "bad"
	default:
		left := t.Expires.Sub(st.Host)
		v.Expiry, v.ExpiryClass = fmt.Sprintf("%s — in %s", formatTime(t.Expires), human(left)), "ok"
		if left <= ExpiryWarningDays*24*time.Hour {
			v.ExpiryClass = "warn"
		}
	}
	if r := st.LeapSources.Result; r != nil {
		switch {
		case r.Verdict == leapcheck.UnknownLeap:
			v.VerdictClass = "bad"
		case r.Verdict == leapcheck.FaultySource || len(r.Unreadable()) > 0:
			v.VerdictClass = "warn"
		default:
			v.VerdictClass = "ok"
		}
	}
	if st.HasNext {
		v.Next = newLeapView(st, st.Next)
	}
	if st.HasLast {
		v.Last = newLeapView(st, st.Last)
	}
	for _, reason := range server.DropReasons() {
		v.Drops = append(v.Drops, dropView{Reason: reason.String(), Count: st.Packets.Verdicts[reason]})
	}
	for _, l := range st.Listeners {
		pol := l.Smear.Policy()
		lv := listenerView{Addr: l.Addr, Policy: pol.Name, Window: pol.Spec(1), V5: "none (UTC)",
			Offset: fmt.Sprintf("%+.3f ms", float64(l.Offset)/1e6), LI: l.LI, InWindow: l.InWindow,
			Received: l.Packets.Received, Replies: l.Packets.Verdicts[server.Answered] + l.Packets.Verdicts[server.AnsweredNTS],
			RepliesV5: l.Packets.AnsweredV5(), Dropped: l.Packets.Dropped()}
		if l.V5Smear != nil {
			lv.V5 = l.V5Smear.Policy().Name
		}
		if l.HasNext {
			lv.When = newLeapView(st, l.Next).When
		}
		v.Listeners = append(v.Listeners, lv)
	}
	var err error
	v.Chart, v.ChartCaption, err = p.chart(st)
	if err != nil {
		v.ChartCaption = "No chart: " + err.Error()
	}
	return v
}

// ExpiryWarningDays is how close to its expiry the status page shows the
// table's expiry as a warning (the daemon's first log warning).
const ExpiryWarningDays = 30

func newLeapView(st daemon.Status, w smear.Window) *leapView {
	t := st.Smear.Table()
	lv := &leapView{Name: w.Event.String(), Kind: "inserted second", Opens: t.LabelFromTAI(w.Start).String(),
		Closes: t.LabelFromTAI(w.End).String()}
	if w.Event.Delta < 0 {
		lv.Kind = "deleted second"
	}
	if w.Event.Synthetic {
		lv.Kind = "rehearsal, " + lv.Kind
	}
	switch until := st.Until(w.Start); {
	case until > 0:
		lv.When = "window opens in " + human(until)
	case st.Until(w.End) > 0:
		lv.When = "smearing now: window closes in " + human(st.Until(w.End))
	default:
		lv.When = "window closed " + human(-st.Until(w.End)) + " ago"
	}
	return lv
}

// chart returns the inline SVG of the policy around the next leap (the last
// one when none is scheduled), with a marker at "now" when now is in view,
// and a caption.
func (p *page) chart(st daemon.Status) (template.HTML, string, error) {
	w, which := st.Next, "next leap"
	if !st.HasNext {
		if !st.HasLast {
			return "", "", fmt.Errorf("the leap table has no leap")
		}
		w, which = st.Last, "last leap"
	}
	s := st.Smear
	jump := w.Event.Jump()
	lo, hi := min(w.Start, jump), max(w.End, jump)
	margin := max((hi-lo)/10, leap.TAI(time.Minute))
	lo, hi = lo-margin, hi+margin
	// Bring "now" into view when it is no further away than the span itself.
	x, span := st.TAI, hi-lo
	if x < lo && lo-x <= span {
		lo = x - span/20
	}
	if x > hi && x-hi <= span {
		hi = x + span/20
	}
	inView := lo <= x && x <= hi
	caption := fmt.Sprintf("Policy %s around the %s, %s: the part of the leap second applied, served time minus true UTC, and the rate of the served clock.",
		s.Policy().Name, which, w.Event)
	switch {
	case inView:
		caption += " The dashed red line marks now."
	case x < lo:
		caption += fmt.Sprintf(" Now is %s before the window opens.", human(time.Duration(w.Start-x)))
	default:
		caption += fmt.Sprintf(" Now is %s after the window closed.", human(time.Duration(x-w.End)))
	}
	key := chartKey{smear: s, lo: lo, hi: hi, bucket: -1}
	if inView {
		step := min(max(span/300, leap.TAI(time.Second)), leap.TAI(time.Minute))
		key.bucket = int64(x / step)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if key == p.key && (p.svg != "" || p.err != nil) {
		return p.svg, caption, p.err
	}
	p.key, p.renders = key, p.renders+1
	p.svg, p.err = renderChart(s, w, which, lo, hi, inView, st.UTC())
	return p.svg, caption, p.err
}

func renderChart(s *smear.Smear, w smear.Window, which string, lo, hi leap.TAI, marker bool, now time.Time) (template.HTML, error) {
	table := s.Table()
	from, to := table.UnixFromTAI(lo).Time(), table.UnixFromTAI(hi).Time()
	c, err := plot.PolicyCurves([]*smear.Smear{s}, w.Event.Day(), from, to, 400)
	if err != nil {
		return "", err
	}
	c.Title = fmt.Sprintf("%s, %s: %s", s.Policy().Name, which, w.Event)
	c.Width, c.Height = 10*vg.Inch, 7.5*vg.Inch
	if marker {
		c.Marker, c.MarkerLabel = now, "now"
	}
	var buf bytes.Buffer
	if err := c.Write(&buf, plot.SVG); err != nil {
		return "", err
	}
	return inlineSVG(buf.Bytes(), c.Title)
}

// svgStart matches the opening tag's fixed size, which inline SVG replaces
// by the page's width (the viewBox keeps the proportions).
var svgStart = regexp.MustCompile(`^<svg width="[^"]*" height="[^"]*"`)

// inlineSVG strips the XML prolog and comments before the <svg> element and
// makes it scale with the page.
func inlineSVG(doc []byte, title string) (template.HTML, error) {
	i := bytes.Index(doc, []byte("<svg"))
	if i < 0 {
		return "", fmt.Errorf("chart: no <svg> element")
	}
	doc = doc[i:]
	loc := svgStart.FindIndex(doc)
	if loc == nil {
		return "", fmt.Errorf("chart: unexpected <svg> tag %.60q", doc)
	}
	head := fmt.Sprintf(`<svg role="img" aria-label="%s"`, template.HTMLEscapeString(title))
	// The SVG is drawn by gonum from numbers and escaped labels: trusted.
	return template.HTML(head + string(doc[loc[1]:])), nil //nolint:gosec
}

// human renders a duration for people: "213 days 4 h", "5 h 12 min",
// "3 min 20 s", "12.5 s".
func human(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days %d h", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%d h %d min", d/time.Hour, d%time.Hour/time.Minute)
	case d >= time.Minute:
		return fmt.Sprintf("%d min %d s", d/time.Minute, d%time.Minute/time.Second)
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}
