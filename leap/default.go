package leap

import (
	"bytes"
	_ "embed"
	"sync"
)

//go:embed data/leap-seconds.list
var embeddedList []byte

// DefaultSource is the Source of the embedded table.
const DefaultSource = "embedded leap-seconds.list"

var parseDefault = sync.OnceValues(func() (*Table, error) {
	return ParseIERS(bytes.NewReader(embeddedList), DefaultSource, ParseOptions{})
})

// Default returns the table compiled into the program: the newest IERS
// leap-seconds.list at build time, checksum-verified. Each call returns a
// fresh copy that the caller may change.
func Default() *Table {
	t, err := parseDefault()
	if err != nil {
		// The embedded file is part of the program; a test guards it.
		panic("leap: the embedded leap-seconds.list does not parse: " + err.Error())
	}
	return t.Clone()
}
