package watch

import (
	"slices"
	"time"
)

// Summary is what a watch found: one entry per server and the fleet spread.
// Its JSON form is the output of 'leapsmear watch --json'; the keys are a
// contract with scripts: add new ones, never rename.
type Summary struct {
	Servers []ServerSummary `json:"servers"`
	// SpreadNs is the fleet spread (SpreadResult.Max) in nanoseconds.
	SpreadNs int64 `json:"spread_ns"`
	// SpreadAt is the instant of the largest spread and SpreadBetween the
	// two servers; both empty when no round compared two servers.
	SpreadAt      string   `json:"spread_at,omitempty"`
	SpreadBetween []string `json:"spread_between,omitempty"`
	// SpreadRounds is how many rounds compared two servers or more.
	SpreadRounds int   `json:"spread_rounds"`
	Rounds       int   `json:"rounds"`
	EveryNs      int64 `json:"every_ns"`
	// Start and End are the first and last rounds' instants.
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
}

// ServerSummary is one server's Result in the JSON form.
type ServerSummary struct {
	Server  string `json:"server"`
	Address string `json:"address"`
	// Class is "step", "smear" or "none" ("unknown" when the server gave
	// fewer than MinPoints answers).
	Class string `json:"class"`
	// Shape is "step", "linear", "cosine", "quadratic", or empty.
	Shape  string `json:"shape"`
	Preset string `json:"preset,omitempty"`
	Policy string `json:"policy,omitempty"`
	// TotalOffsetNs is the leap the server applied as the watcher saw it:
	// +1e9 for an inserted second, -1e9 for a deleted one.
	TotalOffsetNs int64   `json:"total_offset_ns"`
	MaxRatePPM    float64 `json:"max_rate_ppm"`
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
}

// Summarize classifies every server of a record and measures the fleet
// spread.
func Summarize(rec *Record, opt Options, sopt SpreadOptions) Summary {
	s := Summary{Rounds: len(rec.Rounds), EveryNs: int64(rec.Every), Servers: make([]ServerSummary, len(rec.Servers))}
	if n := len(rec.Rounds); n > 0 {
		s.Start, s.End = formatTime(rec.Rounds[0].At), formatTime(rec.Rounds[n-1].At)
	}
	for i, server := range rec.Servers {
		r := Classify(rec.Series(i), opt)
		ss := ServerSummary{
			Server: server, Class: string(r.Class), Shape: r.Shape, Preset: r.Preset, Policy: r.Policy,
			TotalOffsetNs: int64(r.TotalOffset), MaxRatePPM: r.MaxRatePPM, Complete: r.Complete, Residual: r.Residual,
			WindowStart: formatTime(r.Start), WindowEnd: formatTime(r.End), Leap: formatTime(r.Leap),
			LeapIndicators: []int{},
		}
		if i < len(rec.Addrs) {
			ss.Address = rec.Addrs[i]
		}
		if !r.Leap.IsZero() {
			m := int64(r.MaxOffset)
			ss.MaxOffsetNs = &m
		}
		for _, rd := range rec.Rounds {
			smp := rd.Samples[i]
			if smp.Answered {
				ss.Answered++
				if li := int(smp.Leap); !slices.Contains(ss.LeapIndicators, li) {
					ss.LeapIndicators = append(ss.LeapIndicators, li)
				}
			} else {
				ss.Lost++
			}
			if smp.Err != nil {
				ss.Error = smp.Err.Error()
			}
		}
		slices.Sort(ss.LeapIndicators)
		s.Servers[i] = ss
	}
	sp := Align(rec, sopt).Spread()
	s.SpreadNs, s.SpreadRounds = int64(sp.Max), sp.Rounds
	if sp.Rounds > 0 {
		s.SpreadAt = formatTime(sp.At)
		s.SpreadBetween = []string{rec.Servers[sp.A], rec.Servers[sp.B]}
	}
	return s
}

// timeLayout is RFC 3339 with all nine digits of the nanoseconds.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}
