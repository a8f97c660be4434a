package main

import (
	"os"
	"runtime/debug"
)

// runGCPercent is the garbage collector's target for `joinery run` unless
// GOGC is set. The row loop's live heap is a few megabytes, but the
// driver allocates one small value per cell (24 bytes, about 240 MB per
// million 10-column rows), so at the default of 100 the collector runs
// every few megabytes, with write barriers on for much of the run. At 200
// it runs half as often: about 13% less CPU for a CSV run of 990,000 rows,
// for about 4 MB more peak RSS (24 MB instead of 20; see
// docs/BENCHMARKS.md).
const runGCPercent = 200

// tuneGC applies runGCPercent unless the user chose GOGC themselves.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(runGCPercent)
	}
}
