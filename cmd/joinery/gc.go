package main

import (
	"os"
	"runtime/debug"
)

// runGCPercent is the garbage collector's target for `joinery run` unless
// GOGC is set. The row loop's live heap is a few megabytes, but the
// driver allocates one small value per cell (24 bytes), far more in a run
// than the live heap, so at the default of 100 the collector runs every
// few megabytes, with write barriers on for much of the run. At 200 it
// runs half as often: a CSV run takes noticeably less CPU for a few
// megabytes more peak RSS (see docs/BENCHMARKS.md, Numbers moved from code
// comments, cmd/joinery/gc.go).
const runGCPercent = 200

// tuneGC applies runGCPercent unless the user chose GOGC themselves.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(runGCPercent)
	}
}
