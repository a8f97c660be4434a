//go:build !demo

package main

import (
	"context"
	"errors"
	"log/slog"
)

// startEmbedded is not linked into production builds: the embedded engine
// makes the binary much larger and every start slower (see
// docs/BENCHMARKS.md, Numbers moved from code comments,
// cmd/joinery/embedded_off.go).
func startEmbedded(context.Context, *slog.Logger) (string, func() error, error) {
	return "", nil, &exitError{code: exitUsage, err: errors.New("database.dsn is empty or \"embedded\", but this joinery binary was built without the embedded demo database: " +
		"set database.dsn, for example to ${JOINERY_DSN} as the shipped config.yaml does, or build with -tags demo")}
}
