// Package report renders what package watch found: the text table and the
// JSON of 'leapsmear watch', the CSV of every sample, and the chart. It only
// formats: the verdicts come from watch.Summarize and the samples from a
// watch.Record, and nothing here reads a clock, a file or a socket (the
// writers take an io.Writer).
package report
