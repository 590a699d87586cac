// Package smear turns a leap-second table and a smear policy into served
// time: a pure, exact function from the continuous TAI scale to the POSIX
// nanoseconds a smearing NTP server hands out, with its inverse.
//
// For a leap of sign s (+1 inserted, -1 deleted) taking effect at the UTC
// midnight T, the continuous scale U is TAI minus the TAI-UTC offset that held
// before the leap (so U reads POSIX time until the leap). A policy is a
// fraction f(U) rising from 0 before its window to 1 after it, and the served
// time is S = U - s*f(U)*1s: true UTC before the window, true UTC again after
// it, and never a repeated or skipped second in between. Everything is
// computed in integer nanoseconds, except the cosine shape which uses float64
// internally and stays within 1 ns of the exact value.
package smear

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Shape is the form of the fraction f over the window, as a function of
// x = (U - start) / length clamped to [0, 1].
type Shape int

const (
	// Step is no smear: f jumps from 0 to 1 at the leap itself, so the served
	// time repeats (or skips) a second and the leap indicator is announced.
	Step Shape = iota
	// Linear is f = x: a constant rate over the window.
	Linear
	// Cosine is f = (1 - cos(pi*x))/2: the rate rises and falls smoothly.
	Cosine
	// Quadratic is f = 2x^2 for x < 1/2 and 1 - 2(1-x)^2 after: constant
	// acceleration, then constant deceleration (chrony's smoothtime).
	Quadratic
)

var shapeNames = [...]string{Step: "step", Linear: "linear", Cosine: "cosine", Quadratic: "quadratic"}

// String returns the shape's name as used in custom policies.
func (s Shape) String() string {
	if s < 0 || int(s) >= len(shapeNames) {
		return fmt.Sprintf("shape(%d)", int(s))
	}
	return shapeNames[s]
}

// ParseShape reads a shape name: step, linear, cosine or quadratic.
func ParseShape(name string) (Shape, error) {
	for i, n := range shapeNames {
		if n == name {
			return Shape(i), nil
		}
	}
	return 0, fmt.Errorf("unknown smear shape %q (want %s)", name, strings.Join(shapeNames[:], ", "))
}

// Limits on custom windows. The length bound keeps the exact integer maths in
// 128 bits; the rate bound keeps the served clock strictly increasing across
// every microsecond (a step is the right policy for anything faster).
const (
	// MaxLength is the longest smear window accepted.
	MaxLength = 72 * time.Hour
	// MaxRatePPM is the fastest smear accepted, in parts per million: half a
	// second per second.
	MaxRatePPM = 500_000
)

// Policy says how a leap second is served: the shape of the smear and where
// its window lies relative to the leap.
type Policy struct {
	// Name is the preset name, or the custom spelling SHAPE:START:LENGTH.
	Name string
	// Shape of the fraction over the window.
	Shape Shape
	// Start of the window relative to T, the POSIX value of the midnight that
	// ends the leap day, on the continuous scale U, for an inserted second (see
	// WindowStart for a deleted one). Unused by Step.
	Start time.Duration
	// Length of the window on U. Unused by Step.
	Length time.Duration
	// AddLeap makes the window on U Length + s*1s long, so that it ends exactly
	// Start+Length after T in true UTC (noon-to-noon ends at noon UTC).
	AddLeap bool
	// DeletedEarly moves the window this much earlier on U for a deleted
	// second. quadratic-17h sets 2 s, because chronyd starts its smoothing
	// curve there (see docs/policies.md); 0 for every other preset.
	DeletedEarly time.Duration
	// Origin says where a preset comes from.
	Origin string
}

// WindowLength returns the window length on U for a leap of sign s.
func (p Policy) WindowLength(sign int) time.Duration {
	if p.AddLeap {
		return p.Length + time.Duration(sign)*time.Second
	}
	return p.Length
}

// WindowStart returns where the window starts relative to T on U for a leap
// of sign s: Start, less DeletedEarly for a deleted second.
func (p Policy) WindowStart(sign int) time.Duration {
	if sign < 0 {
		return p.Start - p.DeletedEarly
	}
	return p.Start
}

// Validate checks a policy for both signs: a positive window no longer than
// MaxLength that contains the leap (it starts at or before T and ends at or
// after it), and a rate within MaxRatePPM.
func (p Policy) Validate() error {
	if p.Shape == Step {
		return nil
	}
	if p.Shape < Step || p.Shape > Quadratic {
		return fmt.Errorf("policy %s: unknown shape %d", p.Name, int(p.Shape))
	}
	if p.DeletedEarly < 0 {
		return fmt.Errorf("policy %s: DeletedEarly %v must not be negative", p.Name, p.DeletedEarly)
	}
	for _, sign := range []int{1, -1} {
		l, start := p.WindowLength(sign), p.WindowStart(sign)
		if l <= 0 {
			return fmt.Errorf("policy %s: window length %v must be positive", p.Name, l)
		}
		if l > MaxLength {
			return fmt.Errorf("policy %s: window length %v is longer than %v", p.Name, l, MaxLength)
		}
		if start > 0 || start+l < 0 {
			return fmt.Errorf("policy %s: the window [%v, %v] relative to the leap must contain the leap: start at or before 0 and end at or after it", p.Name, start, start+l)
		}
		if r := p.MaxRatePPM(sign); r > MaxRatePPM {
			return fmt.Errorf("policy %s: smearing one second over %v needs %.0f ppm, more than the %d ppm allowed; use a longer window or step", p.Name, l, r, MaxRatePPM)
		}
	}
	return nil
}

// MaxRatePPM returns the largest frequency offset, in parts per million, the
// policy gives the served clock for a leap of sign s: 1/L for linear, pi/(2L)
// for cosine, 2/L for quadratic (L the window length in seconds), and
// infinity for a step.
func (p Policy) MaxRatePPM(sign int) float64 {
	l := p.WindowLength(sign).Seconds()
	switch p.Shape {
	case Linear:
		return 1e6 / l
	case Cosine:
		return math.Pi / 2 * 1e6 / l
	case Quadratic:
		return 2e6 / l
	default:
		return math.Inf(1)
	}
}

// String returns the policy's name.
func (p Policy) String() string { return p.Name }

// Spec returns the custom spelling SHAPE:START:LENGTH of the policy for a
// leap of sign s, which Parse reads back to the same window.
func (p Policy) Spec(sign int) string {
	if p.Shape == Step {
		return "step"
	}
	return fmt.Sprintf("%s:%v:%v", p.Shape, p.WindowStart(sign), p.WindowLength(sign))
}

const day = 24 * time.Hour

// presets are the published smears. Keep docs/policies.md in step.
var presets = []Policy{
	{Name: "step", Shape: Step,
		Origin: "no smear: the served clock repeats 23:59:59 (or skips it) and the leap indicator is announced during the last day, as plain NTP does"},
	{Name: "noon-to-noon", Shape: Linear, Start: -12 * time.Hour, Length: day, AddLeap: true,
		Origin: "the 24 h linear smear from noon to noon UTC used by Google's and AWS's public NTP since 2017"},
	{Name: "google-2016", Shape: Linear, Start: -10 * time.Hour, Length: 20 * time.Hour, AddLeap: true,
		Origin: "Google's 20 h linear smear of 2016, from 14:00 UTC before the leap to 10:00 UTC after it"},
	{Name: "cosine-2008", Shape: Cosine, Start: -day, Length: day,
		Origin: "Google's first smear (2008): a cosine over the 24 h before the leap"},
	{Name: "quadratic-17h", Shape: Quadratic, Start: 0, Length: 62500 * time.Second, DeletedEarly: 2 * time.Second,
		Origin: "chrony's 'smoothtime 400 0.001024 leaponly' with 'leapsecmode slew': constant acceleration then deceleration over 62 500 s from the leap (from 2 s before it on the continuous scale for a deleted second, as chronyd does), the smear Meta describes"},
	{Name: "slew-500ppm", Shape: Linear, Start: 0, Length: 2000 * time.Second,
		Origin: "what 'ntpd -x' does after a leap: a slew at its 500 ppm maximum, 2 000 s from the leap"},
}

// DefaultPolicy is the preset a server uses when none is configured.
const DefaultPolicy = "noon-to-noon"

// Presets returns the published smears, step first.
func Presets() []Policy { return append([]Policy(nil), presets...) }

// PresetNames returns the preset names in order.
func PresetNames() []string {
	names := make([]string, len(presets))
	for i, p := range presets {
		names[i] = p.Name
	}
	return names
}

// Parse reads a policy: a preset name (see Presets) or a custom policy written
// SHAPE:START:LENGTH, with START relative to the leap and LENGTH on the
// continuous scale in Go duration syntax, such as linear:-30s:61s or
// quadratic:0s:10m.
func Parse(spec string) (Policy, error) {
	spec = strings.TrimSpace(spec)
	for _, p := range presets {
		if p.Name == spec {
			return p, nil
		}
	}
	parts := strings.Split(spec, ":")
	if len(parts) != 3 {
		names := PresetNames()
		sort.Strings(names)
		return Policy{}, fmt.Errorf("policy %q: want a preset (%s) or SHAPE:START:LENGTH such as linear:-30s:61s", spec, strings.Join(names, ", "))
	}
	shape, err := ParseShape(parts[0])
	if err != nil {
		return Policy{}, fmt.Errorf("policy %q: %w", spec, err)
	}
	if shape == Step {
		return Policy{}, fmt.Errorf("policy %q: step takes no window; write just \"step\"", spec)
	}
	// time's own messages ("time: unknown unit") name no part of the
	// policy: say which part is wrong and what it takes.
	const units = "units h, m, s, ms, us, ns; SHAPE:START:LENGTH such as linear:-30s:61s"
	start, err := time.ParseDuration(parts[1])
	if err != nil {
		return Policy{}, fmt.Errorf("policy %q: window start %q: want a duration from the leap such as -12h, -30s or 0s (%s)", spec, parts[1], units)
	}
	length, err := time.ParseDuration(parts[2])
	if err != nil {
		return Policy{}, fmt.Errorf("policy %q: window length %q: want a duration such as 24h, 61s or 1h30m (%s)", spec, parts[2], units)
	}
	p := Policy{Name: spec, Shape: shape, Start: start, Length: length, Origin: "custom"}
	if err := p.Validate(); err != nil {
		return Policy{}, err
	}
	return p, nil
}
