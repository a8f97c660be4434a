// Command gen writes the configuration of the many-jobs benchmark
// (bench/many) to standard output:
//
//	go run ./bench/many/gen -n 1000 -output-dir /tmp/reports > many.yaml
package main

import (
	"flag"
	"fmt"

	"github.com/joinery/joinery/bench/many"
)

func main() {
	n := flag.Int("n", 1000, "how many jobs")
	dir := flag.String("output-dir", "${JOINERY_OUTPUT_DIR:-reports}", "the configuration's output_dir")
	flag.Parse()
	fmt.Print(many.Config(*n, *dir))
}
