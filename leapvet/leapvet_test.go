package leapvet_test

import (
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"

	"github.com/leapsmear/leapsmear/leapvet"
)

// TestSources: each source of a wall-clock duration, reaching a sink.
func TestSources(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), leapvet.Analyzer, "example.com/leapvettest/sources")
}

// TestSinks: each sink, reached by a wall-clock duration.
func TestSinks(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), leapvet.Analyzer, "example.com/leapvettest/sinks")
}

// TestSafe: monotonic durations, guarded or clamped values, times equal by
// construction, what is not tracked and harmless uses are not reported.
func TestSafe(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), leapvet.Analyzer, "example.com/leapvettest/safe")
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

// TestAcrossPackages: what a package's exported functions return, and where
// their parameters go, is known in the packages that import it.
func TestAcrossPackages(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), leapvet.Analyzer, "example.com/leapvettest/crosspkg")
}
