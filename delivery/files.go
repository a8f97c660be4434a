package delivery

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
)

// ErrChanged is wrapped (as a Permanent error) by the error of a report
// file that is gone or no longer has the size and SHA-256 its run wrote:
// a later run replaced it, retention removed it, or someone edited it.
// The file is never delivered then: what would arrive is not the run's.
var ErrChanged = errors.New("the file is not the one its run wrote")

// Open opens the report file f for reading. The reader checks, at the
// end of the file, that what was read has f's size and SHA-256; if not,
// its Read returns an error wrapping ErrChanged (Permanent) instead of
// io.EOF. A destination that streams the file to its server fails the
// upload on that error, so that a changed file never passes for the
// run's.
func (f File) Open() (io.ReadCloser, error) {
	fh, err := os.Open(f.Path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, Permanent(fmt.Errorf("%s: %w: it is gone", f.Path, ErrChanged))
		}
		return nil, err
	}
	return &checkedReader{f: fh, file: f, h: sha256.New()}, nil
}

// Check reads f through and reports whether it is still the file its run
// wrote (an error wrapping ErrChanged when not).
func (f File) Check() error {
	r, err := f.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = io.Copy(io.Discard, r)
	return err
}

// CheckFiles checks every file of r (see File.Check).
func (r *Report) CheckFiles() error {
	for _, f := range r.Files {
		if err := f.Check(); err != nil {
			return err
		}
	}
	return nil
}

type checkedReader struct {
	f    *os.File
	file File
	h    hash.Hash
	n    int64
}

func (c *checkedReader) Read(p []byte) (int, error) {
	n, err := c.f.Read(p)
	c.n += int64(n)
	c.h.Write(p[:n])
	if c.n > c.file.Size {
		return n, Permanent(fmt.Errorf("%s: %w: larger than the %d bytes written", c.file.Path, ErrChanged, c.file.Size))
	}
	if err == io.EOF {
		if c.n != c.file.Size {
			return n, Permanent(fmt.Errorf("%s: %w: %d bytes, the run wrote %d", c.file.Path, ErrChanged, c.n, c.file.Size))
		}
		if sum := hex.EncodeToString(c.h.Sum(nil)); sum != c.file.SHA256 {
			return n, Permanent(fmt.Errorf("%s: %w: its SHA-256 differs", c.file.Path, ErrChanged))
		}
	}
	return n, err
}

func (c *checkedReader) Close() error { return c.f.Close() }
