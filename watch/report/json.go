package report

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/leapsmear/leapsmear/internal/textfmt"
	"github.com/leapsmear/leapsmear/ntp"
	"github.com/leapsmear/leapsmear/watch"
)

// JSON is the form of a watch.Summary that 'leapsmear watch --json' prints.
// Its keys are a contract with scripts: new ones may be added, none renamed
// and none given another meaning. Lengths are integer nanoseconds, instants
// RFC 3339 in UTC with nine decimals. A value that was not measured is null,
// never a zero that reads as a measurement.
type JSON struct {
	Servers []ServerJSON `json:"servers"`
	// SpreadNs is the fleet spread (watch.SpreadResult.Max) in nanoseconds;
	// null when no round compared two servers.
	SpreadNs *int64 `json:"spread_ns"`
	// SpreadAt is the instant of the largest spread and SpreadBetween the
	// two servers; both left out when no round compared two servers.
	SpreadAt      string   `json:"spread_at,omitempty"`
	SpreadBetween []string `json:"spread_between,omitempty"`
	// SpreadRounds is how many rounds compared two servers or more.
	SpreadRounds int   `json:"spread_rounds"`
	Rounds       int   `json:"rounds"`
	EveryNs      int64 `json:"every_ns"`
	// Start and End are the first and last rounds' instants.
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
	// Mixed says why the servers should not be used together (they mix
	// leap smears as they declare them, client.CheckSources); null when
	// they do not.
	Mixed *string `json:"mixed"`
}

// SmearPolicyJSON is a leapsmear server's declaration of its smear
// (ntp.SmearInfo).
type SmearPolicyJSON struct {
	Policy    string `json:"policy"`
	Window    string `json:"window"`
	Leap      string `json:"leap,omitempty"`
	Delta     int    `json:"delta,omitempty"`
	Opens     string `json:"opens,omitempty"`
	Closes    string `json:"closes,omitempty"`
	Synthetic bool   `json:"synthetic,omitempty"`
}

// NewSmearPolicyJSON returns the JSON form of a declaration; nil for none.
func NewSmearPolicyJSON(i *ntp.SmearInfo) *SmearPolicyJSON {
	if i == nil {
		return nil
	}
	return &SmearPolicyJSON{Policy: i.Policy, Window: i.Window, Leap: i.Leap, Delta: i.Delta, Opens: i.Opens, Closes: i.Closes,
		Synthetic: i.Synthetic}
}

// ServerJSON is one server of JSON.
type ServerJSON struct {
	Server  string `json:"server"`
	Address string `json:"address"`
	// Class is "step", "smear" or "none"; "unknown" when the server gave
	// fewer than watch.MinPoints answers, and then nothing was measured.
	Class string `json:"class"`
	// Shape is "step", "linear", "cosine", "quadratic", or empty.
	Shape  string `json:"shape"`
	Preset string `json:"preset,omitempty"`
	Policy string `json:"policy,omitempty"`
	// TotalOffsetNs is the leap the server applied as the watcher saw it:
	// +1e9 for an inserted second, -1e9 for a deleted one; null when the
	// class is unknown.
	TotalOffsetNs *int64 `json:"total_offset_ns"`
	// MaxRatePPM is the largest rate of change of the offset; null when the
	// class is unknown.
	MaxRatePPM *float64 `json:"max_rate_ppm"`
	// MaxOffsetNs is the largest offset from true UTC (served minus UTC),
	// when the leap instant (Leap) is known.
	MaxOffsetNs *int64 `json:"max_offset_ns,omitempty"`
	Leap        string `json:"leap,omitempty"`
	// WindowStart and WindowEnd bound the change (the fitted window of a
	// smear; the samples either side of a step).
	WindowStart string  `json:"window_start,omitempty"`
	WindowEnd   string  `json:"window_end,omitempty"`
	Complete    bool    `json:"complete"`
	Residual    float64 `json:"residual,omitempty"`
	// LeapIndicators lists the leap indicators the server sent (a stepping
	// server announces the leap with 1 or 2 before it; a smearing one never
	// does).
	LeapIndicators []int `json:"leap_indicators"`
	Answered       int   `json:"answered"`
	Lost           int   `json:"lost"`
	// Error is the last error of an exchange, if any.
	Error string `json:"error,omitempty"`
	// DeclaresSmear is what the server declared about leap smearing:
	// "yes", "no" or "unknown" (it never said); SmearEvidence says how;
	// SmearPolicy is a leapsmear server's policy and next window (null for
	// other servers).
	DeclaresSmear string           `json:"declares_smear"`
	SmearEvidence string           `json:"smear_evidence,omitempty"`
	SmearPolicy   *SmearPolicyJSON `json:"smear_policy"`
}

// NewJSON returns the JSON form of a summary.
func NewJSON(sum watch.Summary) JSON {
	j := JSON{Rounds: sum.Rounds, EveryNs: int64(sum.Every), SpreadRounds: sum.Spread.Rounds,
		Start: textfmt.Time(sum.Start), End: textfmt.Time(sum.End), Servers: make([]ServerJSON, len(sum.Servers))}
	if a, b, ok := sum.SpreadBetween(); ok {
		spread := int64(sum.Spread.Max)
		j.SpreadNs, j.SpreadAt, j.SpreadBetween = &spread, textfmt.Time(sum.Spread.At), []string{a, b}
	}
	if sum.Mixed != nil {
		m := sum.Mixed.Error()
		j.Mixed = &m
	}
	for i, s := range sum.Servers {
		sj := ServerJSON{
			Server: s.Server, Address: s.Address, Class: string(s.Class), Shape: s.Shape, Preset: s.Preset, Policy: s.Policy,
			Complete: s.Complete, Residual: s.Residual, Leap: textfmt.Time(s.Leap),
			WindowStart: textfmt.Time(s.Start), WindowEnd: textfmt.Time(s.End),
			LeapIndicators: make([]int, len(s.LeapIndicators)), Answered: s.Answered, Lost: s.Lost,
		}
		if s.Measured() {
			total, rate := int64(s.TotalOffset), s.MaxRatePPM
			sj.TotalOffsetNs, sj.MaxRatePPM = &total, &rate
		}
		if !s.Leap.IsZero() {
			m := int64(s.MaxOffset)
			sj.MaxOffsetNs = &m
		}
		for k, li := range s.LeapIndicators {
			sj.LeapIndicators[k] = int(li)
		}
		if s.Err != nil {
			sj.Error = s.Err.Error()
		}
		sj.DeclaresSmear, sj.SmearEvidence = s.Declared.Smearing.String(), s.Declared.Evidence
		sj.SmearPolicy = NewSmearPolicyJSON(s.Declared.Info)
		j.Servers[i] = sj
	}
	return j
}

// WriteJSON writes the JSON form of a summary, indented by two spaces.
func WriteJSON(w io.Writer, sum watch.Summary) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(NewJSON(sum)); err != nil {
		return fmt.Errorf("json: %w", err)
	}
	return nil
}
