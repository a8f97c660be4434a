// Command joinery runs declarative MySQL join reports into Excel and CSV
// files, by hand or on a cron schedule. See README.md.
package main

import (
	"os"
	_ "time/tzdata" // zones work in images without /usr/share/zoneinfo
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	sig, release := notifySignals()
	code := run(sig.stop, sig, os.Args[1:], os.Stdout, os.Stderr)
	release()
	os.Exit(code)
}
