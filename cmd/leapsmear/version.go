package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// versionString describes the running build from the information the Go
// toolchain records in the binary: the main module's version (the release
// tag, a pseudo-version, or "(devel)"), the VCS revision and its time, a
// "+modified" mark when the tree had uncommitted changes, and the Go version
// and platform. release/build.sh stamps the tag it is given.
func versionString() string {
	version, revision, when, modified := "(unknown)", "", "", false
	if info, ok := debug.ReadBuildInfo(); ok {
		if info.Main.Version != "" {
			version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	rev := "revision unknown"
	if revision != "" {
		rev = "revision " + revision
		if when != "" {
			rev += " (" + when + ")"
		}
		if modified {
			rev += " +modified"
		}
	}
	return fmt.Sprintf("%s, %s, %s %s/%s", version, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
