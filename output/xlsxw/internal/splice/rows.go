package splice

import (
	"bufio"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/klauspost/compress/flate"
	"github.com/xuri/excelize/v2"
)

// chunkSize is how much row XML is handed to the compressing goroutine at
// a time; two chunks are in flight, so memory stays at a few of them.
const chunkSize = 256 << 10

// Rows is the <row> XML of one sheet after its header, deflated by a
// second goroutine into a temporary file while rows keep coming (on two
// cores the compression costs next to no wall time). Finish waits for it;
// Save then copies the compressed bytes into the workbook.
type Rows struct {
	Buf        []byte      // rows not yet handed over: the writer appends <row> elements, then calls Flush
	full       chan []byte // to the compressor
	free       chan []byte // back from it
	done       chan error
	tmp        *os.File
	release    func() error // closes tmp (and removes it where it still has a name)
	finished   bool
	err        error
	Dimension  string // the sheet's used range, "A1:J990001"; set before Finish
	Header     []byte // with strings: shared, the header row in place of excelize's
	crc        uint32 // of the uncompressed XML, set by finish
	size       int64  // uncompressed bytes, set by finish
	compressed int64  // bytes in tmp, set by finish
}

// NewRows starts the rows of a sheet (or the <si> elements of the shared
// strings), compressed into a file that scratch creates.
func NewRows(scratch func() (*os.File, func() error, error)) (*Rows, error) {
	tmp, release, err := scratch()
	if err != nil {
		return nil, err
	}
	s := &Rows{
		release: release,
		Buf:     make([]byte, 0, chunkSize+4096),
		full:    make(chan []byte, 1),
		free:    make(chan []byte, 2),
		done:    make(chan error, 1),
		tmp:     tmp,
	}
	s.free <- make([]byte, 0, chunkSize+4096)
	go s.compress()
	return s, nil
}

// compress runs on its own goroutine until full is closed.
func (s *Rows) compress() {
	bw := bufio.NewWriterSize(s.tmp, 256<<10)
	fw, _ := flate.NewWriter(bw, deflateLevel)
	var err error
	var crc uint32
	var size int64
	for chunk := range s.full {
		if err == nil {
			crc = crc32.Update(crc, crc32.IEEETable, chunk)
			size += int64(len(chunk))
			_, err = fw.Write(chunk)
		}
		s.free <- chunk[:0]
	}
	if err == nil {
		err = fw.Flush() // not Close: the sheet's tail follows in another stream
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		var off int64
		off, err = s.tmp.Seek(0, 1)
		s.compressed = off
	}
	s.crc, s.size = crc, size
	s.done <- err
}

// Flush hands the buffer to the compressor when it is full enough.
func (s *Rows) Flush(force bool) {
	if len(s.Buf) < chunkSize && !force || len(s.Buf) == 0 {
		return
	}
	s.full <- s.Buf
	s.Buf = <-s.free
}

// Finish compresses what is left, waits for the compressor and closes the
// temporary file: a dataset spilling over many sheets holds neither their
// buffers nor their file descriptors until the workbook is saved.
func (s *Rows) Finish() error {
	if s.finished {
		return s.err
	}
	s.finished = true
	s.Flush(true)
	close(s.full)
	s.err = <-s.done
	s.Buf, s.full, s.free = nil, nil, nil
	return s.err
}

// open returns the compressed rows of a finished sheetRows. The file stays
// open until remove: it has no name to be opened again by (see Dir.scratch).
func (s *Rows) open() (io.Reader, error) {
	if !s.finished {
		return nil, errors.New("sheet rows not finished")
	}
	if s.err != nil {
		return nil, s.err
	}
	return io.NewSectionReader(s.tmp, 0, s.compressed), nil
}

// Remove stops the compressor if needed and closes (so deletes) the
// temporary file.
func (s *Rows) Remove() error {
	if !s.finished {
		_ = s.Finish()
	}
	if s.release == nil {
		return nil
	}
	release := s.release
	s.release = nil
	return release()
}

// Cell XML, as excelize's stream writer writes it.

// ColRefs returns each column's letters ("A", "B", ... "AA").
func ColRefs(n int) []string {
	refs := make([]string, n)
	for i := range refs {
		refs[i], _ = excelize.ColumnNumberToName(i + 1)
	}
	return refs
}

// AppendCellStart appends `<c r="B12" s="3"` for column letters col and
// the row number's digits.
func AppendCellStart(b []byte, col string, row []byte, style int) []byte {
	b = append(b, `<c r="`...)
	b = append(b, col...)
	b = append(b, row...)
	b = append(b, '"')
	if style != 0 {
		b = append(b, ` s="`...)
		b = strconv.AppendInt(b, int64(style), 10)
		b = append(b, '"')
	}
	return b
}

// AppendNumberCell appends a number cell whose value text is num.
func AppendNumberCell(b []byte, col string, row []byte, style int, num []byte) []byte {
	b = AppendCellStart(b, col, row, style)
	b = append(b, "><v>"...)
	b = append(b, num...)
	return append(b, "</v></c>"...)
}

// AppendFloatCell appends a number cell holding f (see appendExcelNumber).
func AppendFloatCell(b []byte, col string, row []byte, style int, f float64, scratch []byte) ([]byte, []byte) {
	scratch = appendNumber(scratch[:0], f)
	return AppendNumberCell(b, col, row, style, scratch), scratch
}

// AppendInlineStr appends ` t="inlineStr"><is><t>text</t></is></c>`: see
// appendT.
func AppendInlineStr(b, text []byte, cut bool) ([]byte, int, int) {
	b = append(b, ` t="inlineStr"><is>`...)
	b, invalid, unfit := appendT(b, text, cut)
	return append(b, "</is></c>"...), invalid, unfit
}

// appendT appends `<t>text</t>` with text escaped as appendXMLText does,
// xml:space="preserve" when it starts or ends with whitespace (Excel
// strips it otherwise), and truncMarker after it if cut. It returns how
// many bytes of invalid UTF-8 and how many characters XML cannot hold
// were replaced by U+FFFD.
func appendT(b, text []byte, cut bool) ([]byte, int, int) {
	b = append(b, `<t`...)
	if len(text) > 0 && (isXMLSpace(text[0]) || !cut && isXMLSpace(text[len(text)-1])) {
		b = append(b, ` xml:space="preserve"`...)
	}
	b = append(b, '>')
	b, invalid, unfit := appendXMLText(b, text)
	if cut {
		b = append(b, TruncMarker...)
	}
	return append(b, "</t>"...), invalid, unfit
}

// SharedStrings is a workbook's shared-strings table (strings: shared),
// streamed: each text cell gets the next index and its <si> goes to rows,
// deflated while the query runs, so the table is never held in memory.
// A text that comes twice is stored twice; the format allows it, and
// looking texts up would hold them all.
type SharedStrings struct {
	Rows  *Rows // the <si> elements
	Count int64 // strings so far
}

// Add appends ` t="s"><v>index</v></c>` to the cell started in b and text's
// <si> to the table; see appendT for cut and the counts returned.
func (s *SharedStrings) Add(b, text []byte, cut bool) ([]byte, int, int) {
	b = append(b, ` t="s"><v>`...)
	b = strconv.AppendInt(b, s.Count, 10)
	b = append(b, "</v></c>"...)
	s.Count++
	r := s.Rows
	r.Buf = append(r.Buf, "<si>"...)
	var invalid, unfit int
	r.Buf, invalid, unfit = appendT(r.Buf, text, cut)
	r.Buf = append(r.Buf, "</si>"...)
	r.Flush(false)
	return b, invalid, unfit
}

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// appendXMLText appends text as XML character data without allocating:
// &, < and > are escaped, and CR too (an XML reader would turn a literal
// one into LF); every byte of invalid UTF-8 and every character XML 1.0
// cannot hold (control characters other than tab, LF and CR, U+FFFE,
// U+FFFF) becomes U+FFFD, and the two are counted apart; a literal "_xHHHH_" gets the prefix
// "_x005F" (an escaped "_"), or Excel and excelize would read it as the
// escaped character U+HHHH. Runs of plain text are copied as they are.
func appendXMLText(b, text []byte) (_ []byte, invalid, unfit int) {
	start := 0
	for i := 0; i < len(text); {
		c := text[i]
		var esc string
		switch {
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(text[i:])
			if bad := r == utf8.RuneError && size == 1; bad || r == 0xFFFE || r == 0xFFFF {
				b = append(b, text[start:i]...)
				b = append(b, "\uFFFD"...)
				if bad {
					invalid++
				} else {
					unfit++
				}
				start = i + size
			}
			i += size
			continue
		case c == '_':
			if isBstr(text[i:]) {
				b = append(b, text[start:i]...)
				b = append(b, "_x005F"...)
				start = i // the '_' itself follows with the plain text
			}
			i++
			continue
		case c >= 0x20 && c != '&' && c != '<' && c != '>', c == '\t', c == '\n':
			i++
			continue
		case c == '&':
			esc = "&amp;"
		case c == '<':
			esc = "&lt;"
		case c == '>':
			esc = "&gt;"
		case c == '\r':
			esc = "&#xD;"
		default:
			esc = "\uFFFD"
			unfit++
		}
		b = append(b, text[start:i]...)
		b = append(b, esc...)
		i++
		start = i
	}
	return append(b, text[start:]...), invalid, unfit
}

// isBstr reports whether b starts with _xHHHH_ (four hex digits).
func isBstr(b []byte) bool {
	if len(b) < 7 || b[0] != '_' || b[1] != 'x' || b[6] != '_' {
		return false
	}
	for _, c := range b[2:6] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// UTF16LenBytes counts b in UTF-16 code units like utf16Len, an invalid
// byte counting as one (it becomes U+FFFD).
func UTF16LenBytes(b []byte) int {
	n := 0
	for _, r := range string(b) { // no copy: the compiler ranges over b
		n += max(utf16.RuneLen(r), 1)
	}
	return n
}

// TruncUTF16Bytes cuts b to at most n UTF-16 code units without splitting
// a rune.
func TruncUTF16Bytes(b []byte, n int) []byte {
	units := 0
	for i, r := range string(b) {
		units += max(utf16.RuneLen(r), 1)
		if units > n {
			return b[:i]
		}
	}
	return b
}
