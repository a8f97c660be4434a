// Package splice writes the sheets of a workbook's data rows itself and
// splices them into the zip excelize writes: the performance machinery of
// the xlsx format, fenced. What it assumes of excelize (the part names of
// sheets, the </sheetData> marker, the header row and <dimension> of a
// streamed sheet, the shared-strings parts) is pinned by contract_test.go,
// which fails when an excelize upgrade changes it; the numbers and
// date-time serials it writes are checked against strconv and excelize by
// number_diff_test.go (seeded, and FuzzAppendNumber).
package splice

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/flate"
	"github.com/xuri/excelize/v2"
)

// Why this file exists: excelize's File.Write builds the whole zip in a
// bytes.Buffer before copying it out (memory grows with the output), and
// deflates every sheet at the default level only then, on one core (the
// largest share of an xlsx run; see BENCHMARKS.md, Numbers moved from code
// comments, output/xlsxw/internal/splice/zip.go). Its ZipWriter hook is handed
// that buffer, but may ignore it: zipSplicer writes straight to the report
// file instead. And each sheet's data rows are not excelize's at all: a
// Rows (xlsxrows.go) encodes them and deflates them on a second
// goroutine while the query runs. excelize writes a sheet holding only the
// header row; zipSplicer puts the pre-compressed rows in front of its
// </sheetData> when excelize stores that sheet.

// TruncMarker ends a text value cut at Excel's limit of 32,767 characters,
// so a reader sees that it was cut.
const TruncMarker = " …[truncated]"

// CorePart holds a workbook's core properties.
const CorePart = "docProps/core.xml"

// deflateLevel trades size for speed: on the benchmark's sheet XML,
// klauspost/compress's level 1 deflates faster than compress/flate's level
// 1 to a slightly smaller output, and many times faster than its default
// level (excelize's), for a larger file (see BENCHMARKS.md, Numbers moved
// from code comments, output/xlsxw/internal/splice/zip.go).
const deflateLevel = flate.BestSpeed

// zipSplicer is an excelize.ZipWriter writing to the real destination.
type zipSplicer struct {
	zw       *zip.Writer
	modified time.Time         // every entry's date
	sheets   map[string]*Rows  // part name -> its data rows
	own      map[string][]byte // parts written instead of excelize's
	sst      *SharedStrings    // strings: shared; nil for inline
	sstDone  bool              // the shared strings part is written
	pending  string            // part being captured
	buf      bytes.Buffer      // its XML from excelize
	err      error
}

func newZipSplicer(w io.Writer, sheets map[string]*Rows, sst *SharedStrings, modified time.Time) *zipSplicer {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, deflateLevel)
	})
	// A copy: the splicer crosses off parts as it stores them, and the book
	// still needs them all to remove their temporary files.
	return &zipSplicer{zw: zw, sheets: maps.Clone(sheets), sst: sst, modified: modified, own: make(map[string][]byte)}
}

func (z *zipSplicer) Create(name string) (io.Writer, error) {
	if err := z.finish(); err != nil {
		return nil, err
	}
	if data, ok := z.own[name]; ok {
		w, err := z.zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: z.modified})
		if err == nil {
			_, err = w.Write(data)
		}
		return io.Discard, err
	}
	if _, ok := z.sheets[name]; ok || z.sst != nil && sstTouches(name) {
		z.pending = name
		z.buf.Reset()
		return &z.buf, nil
	}
	return z.zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: z.modified})
}

func (z *zipSplicer) AddFS(fsys fs.FS) error { return z.zw.AddFS(fsys) }

func (z *zipSplicer) Close() error {
	if err := z.finish(); err != nil {
		return err
	}
	if z.sst != nil && !z.sstDone {
		// No About sheet: excelize has no strings of its own.
		if err := z.sharedStrings(nil); err != nil {
			return err
		}
	}
	if len(z.sheets) > 0 {
		var missing []string
		for name := range z.sheets {
			missing = append(missing, name)
		}
		sort.Strings(missing)
		return fmt.Errorf("excelize did not write sheet parts %s", strings.Join(missing, ", "))
	}
	return z.zw.Close()
}

// finish stores the captured sheet: excelize's XML up to </sheetData>, the
// rows, the rest. Three raw DEFLATE streams concatenate into one as long as
// only the last has a final block (flate's Flush ends on a byte boundary
// without one); the CRC of the whole is combined from the parts' CRCs.
func (z *zipSplicer) finish() error {
	if z.err != nil || z.pending == "" {
		return z.err
	}
	name, rows := z.pending, z.sheets[z.pending]
	z.pending = ""
	if rows == nil { // strings: shared
		z.err = z.shared(name, z.buf.Bytes())
		return z.err
	}
	delete(z.sheets, name)
	z.err = z.splice(name, z.buf.Bytes(), rows)
	return z.err
}

func (z *zipSplicer) splice(name string, sheet []byte, rows *Rows) error {
	cut := bytes.LastIndex(sheet, []byte("</sheetData>"))
	if cut < 0 {
		return fmt.Errorf("%s: no </sheetData> in excelize's sheet", name)
	}
	head, tail := sheet[:cut], sheet[cut:]
	if rows.Dimension != "" {
		var err error
		if head, err = setDimension(head, rows.Dimension); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if rows.Header != nil {
		var err error
		if head, err = setHeader(head, rows.Header); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return z.store(name, head, rows, tail)
}

// store writes the entry name: head, the deflated rows, tail.
func (z *zipSplicer) store(name string, head []byte, rows *Rows, tail []byte) error {
	if !rows.finished || rows.err != nil {
		return fmt.Errorf("%s: rows not finished: %v", name, rows.err)
	}
	var zhead, ztail bytes.Buffer
	fw, err := flate.NewWriter(&zhead, deflateLevel)
	if err != nil {
		return err
	}
	_, _ = fw.Write(head)
	_ = fw.Flush()
	fw.Reset(&ztail)
	_, _ = fw.Write(tail)
	_ = fw.Close()

	crc := crc32.ChecksumIEEE(head)
	crc = crc32Combine(crc, rows.crc, rows.size)
	crc = crc32Combine(crc, crc32.ChecksumIEEE(tail), int64(len(tail)))
	fh := &zip.FileHeader{
		Name:               name,
		Method:             zip.Deflate,
		CRC32:              crc,
		UncompressedSize64: uint64(int64(len(head)) + rows.size + int64(len(tail))),
		CompressedSize64:   uint64(int64(zhead.Len()) + rows.compressed + int64(ztail.Len())),
	}
	z.date(fh)
	w, err := z.zw.CreateRaw(fh)
	if err != nil {
		return err
	}
	if _, err := w.Write(zhead.Bytes()); err != nil {
		return err
	}
	if rows.compressed > 0 {
		r, err := rows.open()
		if err != nil {
			return fmt.Errorf("rows of %s: %w", name, err)
		}
		if _, err = io.Copy(w, r); err != nil {
			return fmt.Errorf("copy rows of %s: %w", name, err)
		}
	}
	_, err = w.Write(ztail.Bytes())
	return err
}

// sstTouches reports whether, with strings: shared, the splicer changes
// the part excelize writes as name: the shared strings themselves, a
// worksheet of excelize's own (the About sheet), whose string indices
// follow the streamed ones, and the two parts that must list the shared
// strings.
func sstTouches(name string) bool {
	return name == sstPart || name == workbookRelsPart || name == contentTypesPart ||
		strings.HasPrefix(name, "xl/worksheets/sheet") && strings.HasSuffix(name, ".xml")
}

const (
	sstPart          = "xl/sharedStrings.xml"
	workbookRelsPart = "xl/_rels/workbook.xml.rels"
	contentTypesPart = "[Content_Types].xml"
)

// shared writes a part that strings: shared changes (see sstTouches).
func (z *zipSplicer) shared(name string, data []byte) error {
	switch name {
	case sstPart:
		return z.sharedStrings(data)
	case workbookRelsPart:
		data = ensure(data, "relationships/sharedStrings", "</Relationships>",
			`<Relationship Id="rIdJoinerySST" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>`)
	case contentTypesPart:
		data = ensure(data, `"/xl/sharedStrings.xml"`, "</Types>",
			`<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>`)
	default: // a sheet of excelize's own: the About sheet
		data = shiftStrings(data, z.sst.Count)
	}
	w, err := z.zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: z.modified})
	if err == nil {
		_, err = w.Write(data)
	}
	return err
}

// ensure inserts add before the last end in data unless data holds has.
func ensure(data []byte, has, end, add string) []byte {
	if bytes.Contains(data, []byte(has)) {
		return data
	}
	i := bytes.LastIndex(data, []byte(end))
	if i < 0 {
		return data
	}
	return slices.Concat(data[:i], []byte(add), data[i:])
}

// sharedCell is a cell of excelize's that holds a shared string's index.
var sharedCell = regexp.MustCompile(`(<c [^>]*t="s"[^>]*><v>)([0-9]+)</v>`)

// shiftStrings adds n to the shared-string index of each cell of a sheet
// excelize wrote: the streamed strings come first in the table.
func shiftStrings(sheet []byte, n int64) []byte {
	return sharedCell.ReplaceAllFunc(sheet, func(m []byte) []byte {
		sub := sharedCell.FindSubmatch(m)
		i, _ := strconv.ParseInt(string(sub[2]), 10, 64)
		out := append([]byte(nil), sub[1]...)
		out = strconv.AppendInt(out, i+n, 10)
		return append(out, "</v>"...)
	})
}

// sharedStrings writes the shared-strings part: the streamed <si>
// elements, then excelize's own (the About sheet's) from its part excel,
// nil when it wrote none.
func (z *zipSplicer) sharedStrings(excel []byte) error {
	z.sstDone = true
	var items []byte
	var own int64
	if excel != nil {
		start := bytes.Index(excel, []byte("<sst"))
		if start < 0 {
			return errors.New("no <sst> in excelize's shared strings")
		}
		end := bytes.LastIndex(excel, []byte("</sst>"))
		if open := bytes.IndexByte(excel[start:], '>'); open > 0 && end > start+open {
			items = excel[start+open+1 : end]
		}
		own = int64(bytes.Count(items, []byte("<si>")) + bytes.Count(items, []byte("<si ")))
	}
	total := strconv.FormatInt(z.sst.Count+own, 10)
	head := []byte(xml.Header + `<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="` +
		total + `" uniqueCount="` + total + `">`)
	return z.store(sstPart, head, z.sst.Rows, slices.Concat(items, []byte("</sst>")))
}

// setHeader puts header in place of the first <row> of a sheet's head.
func setHeader(head, header []byte) ([]byte, error) {
	i := bytes.Index(head, []byte(`<row r="1"`))
	if i < 0 {
		return nil, errors.New("no header row in excelize's sheet")
	}
	j := bytes.Index(head[i:], []byte("</row>"))
	if j < 0 {
		return nil, errors.New("unterminated header row in excelize's sheet")
	}
	return slices.Concat(head[:i], header, head[i+j+len("</row>"):]), nil
}

// date dates a raw entry as CreateHeader dates the others: an MS-DOS
// date and time (local, two-second steps) and the extended timestamp
// field's Unix time (CreateRaw does neither).
func (z *zipSplicer) date(fh *zip.FileHeader) {
	t := z.modified
	if t.IsZero() || t.Year() < 1980 {
		return
	}
	fh.Modified = t
	fh.ModifiedDate = uint16(t.Day() + int(t.Month())<<5 + (t.Year()-1980)<<9)
	fh.ModifiedTime = uint16(t.Second()/2 + t.Minute()<<5 + t.Hour()<<11)
	var ext [9]byte
	binary.LittleEndian.PutUint16(ext[0:], 0x5455) // extended timestamp
	binary.LittleEndian.PutUint16(ext[2:], 5)
	ext[4] = 1 // the modification time follows
	binary.LittleEndian.PutUint32(ext[5:], uint32(t.Unix()))
	fh.Extra = append(fh.Extra, ext[:]...)
}

// setDimension sets the ref of the sheet's <dimension> to the used range:
// excelize's stream writer leaves it at "A1", and readers that trust it
// (openpyxl in read-only mode) see only the first cell.
func setDimension(head []byte, ref string) ([]byte, error) {
	const open = `<dimension ref="`
	i := bytes.Index(head, []byte(open))
	if i < 0 {
		return nil, errors.New("no <dimension> in excelize's sheet")
	}
	i += len(open)
	j := bytes.IndexByte(head[i:], '"')
	if j < 0 {
		return nil, errors.New("unterminated <dimension> in excelize's sheet")
	}
	out := make([]byte, 0, len(head)+len(ref))
	out = append(out, head[:i]...)
	out = append(out, ref...)
	return append(out, head[i+j:]...), nil
}

// Save writes the workbook f to w: excelize's parts, with each sheet of
// sheets (by part name, see SheetPart) getting its rows spliced in before
// its </sheetData>, with strings: shared (sst not nil) the shared strings
// written, and the parts of own written instead of excelize's (such as
// CorePart). Every entry is dated modified.
func Save(f *excelize.File, w io.Writer, sheets map[string]*Rows, sst *SharedStrings, own map[string][]byte, modified time.Time) error {
	z := newZipSplicer(w, sheets, sst, modified)
	maps.Copy(z.own, own)
	return z.save(f)
}

// save writes f through z.
func (z *zipSplicer) save(f *excelize.File) error {
	f.SetZipWriter(func(io.Writer) excelize.ZipWriter { return z })
	// With the hook ignoring excelize's buffer, Write copies an empty buffer.
	if err := f.Write(io.Discard); err != nil {
		return err
	}
	return z.err
}

// SheetPart is the zip part excelize stores a sheet with the given ID in:
// sheets are numbered by ID when created (NewSheet, and the first sheet of
// NewFile). zipSplicer.Close fails if excelize ever names them otherwise.
func SheetPart(sheetID int) string {
	return fmt.Sprintf("xl/worksheets/sheet%d.xml", sheetID)
}

// crc32Combine returns the IEEE CRC-32 of A followed by B from crc(A),
// crc(B) and len(B), as zlib's crc32_combine: appending len2 zero bytes is
// a linear map on the CRC, applied by repeated squaring of a GF(2) matrix.
func crc32Combine(crc1, crc2 uint32, len2 int64) uint32 {
	if len2 <= 0 {
		return crc1 ^ crc2
	}
	var even, odd [32]uint32
	odd[0] = crc32.IEEE // the operator for one zero bit
	row := uint32(1)
	for n := 1; n < 32; n++ {
		odd[n] = row
		row <<= 1
	}
	gf2Square(&even, &odd) // two zero bits
	gf2Square(&odd, &even) // four zero bits
	for {
		gf2Square(&even, &odd) // apply len2's bits, one byte's worth and up
		if len2&1 != 0 {
			crc1 = gf2Times(&even, crc1)
		}
		if len2 >>= 1; len2 == 0 {
			break
		}
		gf2Square(&odd, &even)
		if len2&1 != 0 {
			crc1 = gf2Times(&odd, crc1)
		}
		if len2 >>= 1; len2 == 0 {
			break
		}
	}
	return crc1 ^ crc2
}

func gf2Times(mat *[32]uint32, vec uint32) uint32 {
	var sum uint32
	for i := 0; vec != 0; i, vec = i+1, vec>>1 {
		if vec&1 != 0 {
			sum ^= mat[i]
		}
	}
	return sum
}

func gf2Square(square, mat *[32]uint32) {
	for n := range 32 {
		square[n] = gf2Times(mat, mat[n])
	}
}
