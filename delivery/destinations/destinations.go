// Package destinations lists the kinds of destination joinery offers:
// the one place where a kind is added (a line in Default), as
// output/formats is for formats.
package destinations

import (
	"github.com/joinery/joinery/delivery"
	"github.com/joinery/joinery/delivery/s3"
	"github.com/joinery/joinery/delivery/sftp"
	"github.com/joinery/joinery/delivery/smtp"
	"github.com/joinery/joinery/delivery/webhook"
)

// Default returns the registry of every kind of destination.
func Default() *delivery.Registry {
	return delivery.NewRegistry(
		smtp.Kind{},
		s3.Kind{},
		sftp.Kind{},
		webhook.Kind{},
	)
}
