package output

import (
	"bufio"
	"compress/flate"
	"encoding/xml"
	"hash/crc32"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
)

// chunkSize is how much row XML is handed to the compressing goroutine at
// a time; two chunks are in flight, so memory stays at a few of them.
const chunkSize = 256 << 10

// sheetRows is the <row> XML of one sheet after its header, deflated by a
// second goroutine into a temporary file while rows keep coming (on two
// cores the compression costs next to no wall time). finish waits for it;
// zipSplicer then copies the compressed bytes into the workbook.
type sheetRows struct {
	buf        []byte      // rows not yet handed over
	full       chan []byte // to the compressor
	free       chan []byte // back from it
	done       chan error
	tmp        *os.File
	finished   bool
	err        error
	crc        uint32 // of the uncompressed XML, set by finish
	size       int64  // uncompressed bytes, set by finish
	compressed int64  // bytes in tmp, set by finish
}

func newSheetRows() (*sheetRows, error) {
	tmp, err := os.CreateTemp("", "joinery-rows-*.deflate")
	if err != nil {
		return nil, err
	}
	s := &sheetRows{
		buf:  make([]byte, 0, chunkSize+4096),
		full: make(chan []byte, 1),
		free: make(chan []byte, 2),
		done: make(chan error, 1),
		tmp:  tmp,
	}
	s.free <- make([]byte, 0, chunkSize+4096)
	go s.compress()
	return s, nil
}

// compress runs on its own goroutine until full is closed.
func (s *sheetRows) compress() {
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

// flush hands the buffer to the compressor when it is full enough.
func (s *sheetRows) flush(force bool) {
	if len(s.buf) < chunkSize && !force || len(s.buf) == 0 {
		return
	}
	s.full <- s.buf
	s.buf = <-s.free
}

// finish compresses what is left and waits for the compressor.
func (s *sheetRows) finish() error {
	if s.finished {
		return s.err
	}
	s.finished = true
	s.flush(true)
	close(s.full)
	s.err = <-s.done
	return s.err
}

// remove stops the compressor if needed and deletes the temporary file.
func (s *sheetRows) remove() error {
	if !s.finished {
		_ = s.finish()
	}
	return removeTemp(s.tmp)
}

// Cell XML, as excelize's stream writer writes it.

// colRefs returns each column's letters ("A", "B", ... "AA").
func colRefs(n int) []string {
	refs := make([]string, n)
	for i := range refs {
		refs[i], _ = excelize.ColumnNumberToName(i + 1)
	}
	return refs
}

// appendCellStart appends `<c r="B12" s="3"` for column letters col and
// the row number's digits.
func appendCellStart(b []byte, col string, row []byte, style int) []byte {
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

// appendNumberCell appends a number cell whose value text is num.
func appendNumberCell(b []byte, col string, row []byte, style int, num []byte) []byte {
	b = appendCellStart(b, col, row, style)
	b = append(b, "><v>"...)
	b = append(b, num...)
	return append(b, "</v></c>"...)
}

// appendFloatCell appends a number cell holding f as excelize formats it.
func appendFloatCell(b []byte, col string, row []byte, style int, f float64, scratch []byte) ([]byte, []byte) {
	scratch = appendExcelFloat(scratch[:0], f)
	return appendNumberCell(b, col, row, style, scratch), scratch
}

// appendTextCell appends an inline string cell. Plain text is copied as
// is; anything else goes through the same escaping and truncation as
// excelize (xmlText).
func appendTextCell(b []byte, col string, row []byte, style int, text []byte) []byte {
	b = appendCellStart(b, col, row, style)
	b = append(b, ` t="inlineStr"><is><t`...)
	if plainText(text) {
		b = append(b, '>')
		b = append(b, text...)
	} else {
		v, preserve := xmlText(string(text))
		if preserve {
			b = append(b, ` xml:space="preserve"`...)
		}
		b = append(b, '>')
		b = append(b, v...)
	}
	return append(b, "</t></is></c>"...)
}

// plainText reports whether text needs no escaping, no xml:space and no
// truncation: printable ASCII other than &<> and "_x" (excelize's escape
// prefix), or valid UTF-8 without U+FFFE/U+FFFF, no edge whitespace, and at
// most TotalCellChars bytes (so at most that many UTF-16 units).
func plainText(b []byte) bool {
	if len(b) == 0 || len(b) > excelize.TotalCellChars || b[0] == ' ' || b[len(b)-1] == ' ' {
		return len(b) == 0
	}
	ascii := true
	for i, c := range b {
		switch {
		case c < 0x20 || c == '&' || c == '<' || c == '>':
			return false
		case c == '_' && i+1 < len(b) && b[i+1] == 'x':
			return false
		case c >= 0x80:
			ascii = false
		}
	}
	if ascii {
		return true
	}
	return utf8.Valid(b) && !strings.Contains(string(b), "\uFFFE") && !strings.Contains(string(b), "\uFFFF")
}

// xmlText is excelize's trimCellValue(value, true) followed by bstrMarshal
// (excelize v2.11.1, cell.go and lib.go, BSD-3-Clause): cut at
// TotalCellChars UTF-16 units, XML-escape (line feeds kept as is), escape
// literal "_xHHHH_" as "_x005F_xHHHH_", and say whether the value has edge
// whitespace that needs xml:space="preserve".
func xmlText(value string) (string, bool) {
	if utf16Len([]byte(value)) > excelize.TotalCellChars {
		value = truncUTF16(value, excelize.TotalCellChars)
	}
	if value == "" {
		return "", false
	}
	preserve := false
	for _, c := range []byte{9, 10, 13, 32} {
		if value[0] == c || value[len(value)-1] == c {
			preserve = true
			break
		}
	}
	var sb strings.Builder
	_ = xml.EscapeText(&sb, []byte(value))
	return bstrMarshal(strings.ReplaceAll(sb.String(), "&#xA;", "\n")), preserve
}

var (
	bstrExp       = regexp.MustCompile(`_x[a-fA-F\d]{4}_`)
	bstrEscapeExp = regexp.MustCompile(`x[a-fA-F\d]{4}_`)
)

// bstrMarshal is excelize's (lib.go): it escapes literal _xHHHH_ sequences,
// which Excel would otherwise read as escaped characters.
func bstrMarshal(s string) (result string) {
	matches, l, cursor := bstrExp.FindAllStringSubmatchIndex(s, -1), len(s), 0
	for _, match := range matches {
		result += s[cursor:match[0]]
		subStr := s[match[0]:match[1]]
		if subStr == "_x005F_" {
			cursor = match[1]
			if match[1]+6 <= l && bstrEscapeExp.MatchString(s[match[1]:match[1]+6]) {
				_, err := strconv.Unquote(`"\u` + s[match[1]+1:match[1]+5] + `"`)
				if err == nil {
					result += subStr + "x005F" + subStr
					continue
				}
			}
			result += subStr + "x005F_"
			continue
		}
		if bstrExp.MatchString(subStr) {
			cursor = match[1]
			if _, err := strconv.Unquote(`"\u` + s[match[0]+2:match[1]-1] + `"`); err == nil {
				result += "_x005F" + subStr
				continue
			}
		}
	}
	if cursor < l {
		result += s[cursor:]
	}
	return result
}

// appendExcelFloat is excelize's formatCellFloat(f, -1, 64): the shortest
// decimal text, cut to Excel's 15 significant digits.
func appendExcelFloat(b []byte, f float64) []byte {
	start := len(b)
	b = strconv.AppendFloat(b, f, 'f', -1, 64)
	if math.Abs(f) == math.MaxFloat64 {
		return b
	}
	str := b[start:]
	const maxPrec = 15
	decimal := -1
	for i, c := range str {
		if c == '.' {
			decimal = i
			break
		}
	}
	significant := 0
	for idx, c := range str {
		if c < '0' || c > '9' || significant == 0 && c == '0' {
			continue
		}
		significant++
		if significant <= maxPrec {
			continue
		}
		if decimal >= 0 && idx > decimal {
			if str[idx-1] == '.' {
				idx--
			}
			return b[:start+idx]
		}
		if decimal < 0 {
			decimal = len(str)
		}
		for ; idx < decimal; idx++ {
			str[idx] = '0'
		}
		return b[:start+decimal]
	}
	return b
}
