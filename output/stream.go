package output

import (
	"bufio"
	"compress/gzip"
	"fmt"
)

// Stream is the file of one dataset of a format with a file per dataset
// (csv, jsonl, tsv): buffered, gzipped with the gzip option, with the row
// count and the error that stuck. A format's DatasetWriter embeds it and
// writes the rows to W; Stream's methods give the rest of DatasetWriter.
type Stream struct {
	W      *bufio.Writer // where the rows go
	Rows   int64         // data rows written; the writer counts them
	Err    error         // the error that stuck; every later call returns it
	format string
	tf     *tempFile
	gz     *gzip.Writer
	closed bool
}

func newStream(tf *tempFile, compress bool, format string) *Stream {
	s := &Stream{tf: tf, format: format}
	if compress {
		s.gz = gzip.NewWriter(tf)
		s.W = bufio.NewWriterSize(s.gz, 64<<10)
	} else {
		s.W = bufio.NewWriterSize(tf, 64<<10)
	}
	return s
}

// Check is called at the start of WriteRow with the number of values and
// of columns: it returns the error that stuck, or makes one.
func (s *Stream) Check(values, cols int) error {
	switch {
	case s.Err != nil:
		return s.Err
	case s.closed:
		return fmt.Errorf("write %s: writer is closed", s.format)
	case values != cols:
		s.Err = fmt.Errorf("write %s: got %d values for %d columns", s.format, values, cols)
	}
	return s.Err
}

// Close flushes everything into the file and syncs it; after an error the
// file is removed.
func (s *Stream) Close() error {
	if s.closed {
		return s.Err
	}
	s.closed = true
	if s.Err != nil {
		_ = s.tf.remove()
		return s.Err
	}
	if err := s.finish(); err != nil {
		s.Err = fmt.Errorf("write %s: %w", s.format, err)
		_ = s.tf.remove()
	}
	return s.Err
}

// finish flushes everything into the temporary file and syncs it.
func (s *Stream) finish() error {
	if err := s.W.Flush(); err != nil {
		return err
	}
	if s.gz != nil {
		if err := s.gz.Close(); err != nil {
			return err
		}
	}
	return s.tf.finish()
}

func (s *Stream) Done() bool       { return s.closed }
func (s *Stream) Failed() error    { return s.Err }
func (s *Stream) RowCount() int64  { return s.Rows }
func (s *Stream) Sheets() []string { return nil }
