// Command gen writes the configuration of the many-jobs benchmark
// (bench/many) to standard output:
//
//	go run ./bench/many/gen -n 1000 -output-dir /tmp/reports > many.yaml
//	go run ./bench/many/gen -n 1000 -seed-state /tmp/reports   # each job ran now
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/joinery/joinery/bench/many"
)

func main() {
	n := flag.Int("n", 1000, "how many jobs")
	dir := flag.String("output-dir", "${JOINERY_OUTPUT_DIR:-reports}", "the configuration's output_dir")
	seed := flag.String("seed-state", "", "instead: record a success now for each job in this output folder (many.SeedState)")
	flag.Parse()
	if *seed != "" {
		if err := many.SeedState(*seed, *n, time.Now()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	fmt.Print(many.Config(*n, *dir))
}
