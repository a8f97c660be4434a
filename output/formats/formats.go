// Package formats is the registry of the report formats joinery offers:
// a format is one package below output and one line here.
package formats

import (
	"github.com/joinery/joinery/output"
	"github.com/joinery/joinery/output/csvw"
	"github.com/joinery/joinery/output/jsonlw"
	"github.com/joinery/joinery/output/tsvw"
	"github.com/joinery/joinery/output/xlsxw"
)

// Default returns a registry of every format, in the order messages and
// the usage list them.
func Default() *output.Registry {
	return output.NewRegistry(
		csvw.Format{},
		xlsxw.Format{},
		jsonlw.Format{},
		tsvw.Format{},
	)
}
