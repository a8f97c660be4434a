//go:build demo

package main

import "github.com/joinery/joinery/internal/demodb"

// startEmbedded starts the in-process demo database (built with -tags demo).
var startEmbedded = demodb.Start
