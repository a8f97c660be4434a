//go:build demo

package main

import (
	"context"
	"log/slog"

	"github.com/joinery/joinery/internal/demodb"
)

// startEmbedded starts the in-process demo database (built with -tags demo).
func startEmbedded(ctx context.Context, log *slog.Logger) (dsn string, stop func() error, err error) {
	return demodb.Start(ctx, log)
}
