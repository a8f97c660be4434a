package main

import (
	"fmt"
	"io"
)

// cmdVersion prints joinery's version.
func cmdVersion(args []string, stdout io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		fmt.Fprintln(stdout, "Usage: joinery version\n\nPrints joinery's version.")
		return nil
	}
	fmt.Fprintf(stdout, "joinery %s\n", version)
	return nil
}
