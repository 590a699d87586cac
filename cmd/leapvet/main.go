// Command leapvet reports wall-clock durations that a clock step or leap
// second can make negative or zero, where they reach code that then panics
// or misbehaves (rand.Int63n, time.NewTicker, make, indexes, unsigned
// conversions, integer divisions). See package leapvet and docs/leapvet.md.
//
// Usage:
//
//	leapvet [-fix] [-diff] [-json] PACKAGES...
//	go vet -vettool=$(command -v leapvet) PACKAGES...
//
// Examples:
//
//	leapvet ./...                 # report, exit status 3 when there are findings
//	leapvet -fix -diff ./...      # show the suggested clamps as a diff
//	leapvet -fix ./pkg/...        # apply them
//	go vet -vettool=$(command -v leapvet) ./...
package main

import (
	"golang.org/x/tools/go/analysis/singlechecker"

	"github.com/leapsmear/leapsmear/leapvet"
)

func main() { singlechecker.Main(leapvet.Analyzer) }
