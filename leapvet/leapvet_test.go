package leapvet_test

import (
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"

	"github.com/leapsmear/leapsmear/leapvet"
)

// TestAnalyzer runs the cases in one load of their packages (loading the
// standard library from source, for the facts, is what takes the time):
//   - sources: each source of a wall-clock duration, reaching a sink;
//   - sinks: each sink, reached by a wall-clock duration;
//   - safe: monotonic durations, guarded or clamped values, times equal by
//     construction, fixed epochs, what is not tracked and harmless uses,
//     none of them reported;
//   - crosspkg: what timeutil's exported functions return, and where their
//     parameters go, known in the package that imports it.
func TestAnalyzer(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), leapvet.Analyzer,
		"example.com/leapvettest/sources", "example.com/leapvettest/sinks",
		"example.com/leapvettest/safe", "example.com/leapvettest/crosspkg")
}

// TestSuggestedFixes: the clamps with max, applied.
func TestSuggestedFixes(t *testing.T) {
	analysistest.RunWithSuggestedFixes(t, analysistest.TestData(), leapvet.Analyzer, "example.com/leapvettest/fix")
}

// TestInventory: with -sources every wall-clock duration is reported, also
// those that reach no sink; plain time.Now() durations are not.
func TestInventory(t *testing.T) {
	if err := leapvet.Analyzer.Flags.Set("sources", "true"); err != nil {
		t.Fatal(err)
	}
	defer leapvet.Analyzer.Flags.Set("sources", "false")
	analysistest.Run(t, analysistest.TestData(), leapvet.Analyzer, "example.com/leapvettest/inventory")
}
