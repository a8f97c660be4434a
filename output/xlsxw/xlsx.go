// Package xlsxw is the xlsx format: one workbook per run, a sheet per
// dataset (continued on "name (2)", ... past Spec.MaxRowsPerSheet) and an
// About sheet. excelize writes each sheet's settings and header; the data
// rows are written and spliced in by internal/splice.
package xlsxw

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/joinery/joinery/output"
	"github.com/joinery/joinery/output/xlsxw/internal/splice"
	"github.com/xuri/excelize/v2"
)

// Format is the xlsx format.
type Format struct{}

func (Format) Name() string         { return "xlsx" }
func (Format) Extensions() []string { return []string{".xlsx"} }
func (Format) PerJob() bool         { return true }

// Async is true: the heaviest encoding (its deflate has a goroutine of
// its own too) runs on a goroutine of its own even alone: it is faster
// (see BENCHMARKS.md, Numbers moved from code comments,
// output/xlsxw/xlsx.go).
func (Format) Async() bool { return true }

func (Format) Options() []string {
	return []string{"decimals", "strings", "about", "max_rows_per_sheet", "columns"}
}

// Check checks the values of the xlsx options.
func (Format) Check(s output.Spec) []error {
	var errs []error
	oneOf := func(field, value string, allowed ...string) {
		if value != "" && !slices.Contains(allowed, value) {
			errs = append(errs, output.Problem(field, value, "want "+strings.Join(allowed, " or ")))
		}
	}
	oneOf("decimals", s.Decimals, "auto", "number", "text")
	oneOf("strings", s.Strings, "inline", "shared")
	if s.Gzip {
		errs = append(errs, output.Problem("gzip", "", "is not an xlsx option: an xlsx file is already compressed"))
	}
	if s.MaxRowsPerSheet < 0 || s.MaxRowsPerSheet > maxSheetRows {
		errs = append(errs, output.Problem("max_rows_per_sheet", fmt.Sprint(s.MaxRowsPerSheet), fmt.Sprintf("want 1 to %d", maxSheetRows)))
	}
	return errs
}

// maxSheetRows is how many data rows fit on a sheet below the header.
const maxSheetRows = 1<<20 - 1

// New starts the workbook of an xlsx output.
func (Format) New(s output.Spec, env output.Env) (output.Writer, error) {
	b := newBook(resolved(s), env.Location)
	b.scratch = env.Scratch
	b.skipEmpty = env.Vars.SkipEmpty
	b.vars = env.Vars
	return b, nil
}

// resolved is s with the xlsx options' defaults filled in.
func resolved(s output.Spec) output.Spec {
	if s.Decimals == "" {
		s.Decimals = "auto"
	}
	if s.Strings == "" {
		s.Strings = "inline"
	}
	if s.About == nil {
		t := true
		s.About = &t
	}
	if s.MaxRowsPerSheet == 0 {
		s.MaxRowsPerSheet = maxSheetRows
	}
	return s
}

// Dataset starts the sheet of a dataset.
func (b *book) Dataset(d output.Dataset) (output.DatasetWriter, error) {
	return b.sheet(d.Name, d.Columns, d.Present)
}

// Save adds the About sheet, unless the output leaves it out, and writes
// the workbook to file.
func (b *book) Save(file io.Writer, datasets []output.DatasetRows) error {
	if *b.spec.About {
		if err := b.about(b.vars, b.loc, datasets); err != nil {
			return err
		}
	}
	return b.save(file, b.vars)
}

// Close removes the workbook's temporary files.
func (b *book) Close() error { return b.close() }

// errSheetFull is returned by an xlsx RowWriter when a dataset needs more
// sheets than a workbook can reasonably hold: rows beyond a sheet's limit
// continue on new sheets, up to maxSheetsPerDataset.
var errSheetFull = errors.New("dataset exceeds the rows an excel workbook can hold")

// maxSheetsPerDataset bounds how many sheets one dataset may fill (over a
// billion rows at Excel's limit): a runaway query fails instead of writing
// a workbook nobody can open.
const maxSheetsPerDataset = 1000

// sampleRows is how many rows an xlsx sheet holds back to size its columns:
// the stream writer needs every column width before the first row.
const sampleRows = 1000

// Column widths are in Excel's unit (the width of a '0'), clamped so one
// long value does not make a column unusable.
const (
	minWidth = 6
	maxWidth = 80
)

// maxNamedCells is how many cells a warning names before it only counts.
const maxNamedCells = 10

// book is one workbook: one sheet per dataset (more when a dataset
// outgrows a sheet), styles created once, temporary files removed by close.
// excelize's stream writer writes each sheet's settings and header row;
// the data rows are joinery's own XML, deflated while they are written and
// spliced into the zip at save (xlsxrows.go, xlsxzip.go).
//
// Cells are typed for analysts: integers are numbers with format "0" (not
// General, which shows 12+ digits in scientific notation) unless they have
// more than 15 significant digits, which Excel would round, so they are
// text; BIT is an integer likewise; DECIMAL follows Spec.Decimals, a
// column at a time (by default numbers with as many decimal places as its
// scale when its declared precision is at most 15 digits, else text);
// FLOAT and DOUBLE are numbers (as every number, the shortest text that
// reads back as the same double); DATE is a date with format yyyy-mm-dd; DATETIME and
// TIMESTAMP are dates with format yyyy-mm-dd hh:mm:ss (.000 added for
// fractional columns; Excel shows at most milliseconds) holding the wall
// clock in the report's zone; TIME is a duration [h]:mm:ss, or text when
// negative (Excel cannot show negative times); dates before 1900-03-01
// are text (see excelSerial);
// binary values are hex or base64 text (Spec.Binary); NULL is an empty
// cell; zero and invalid dates follow Spec.ZeroDates. Text is cut at
// Excel's 32,767 characters with truncMarker, and characters XML cannot
// hold become U+FFFD; both are counted in Warnings.
type book struct {
	f         *excelize.File
	spec      output.Spec // resolved
	skipEmpty bool        // see Vars.SkipEmpty
	vars      output.Vars // the run's
	loc       *time.Location
	used      map[string]bool // lower-cased sheet names
	sheets    int
	styles    map[string]int // number format -> style ID
	header    int
	parts     map[string]*splice.Rows // zip part name -> the sheet's data rows
	sst       *splice.SharedStrings   // strings: shared; nil for inline strings
	// scratch creates the file a sheet's compressed rows wait in
	// (Env.Scratch, which Open gives every format with a file per job).
	scratch  func() (*os.File, func() error, error)
	closed   bool
	closeErr error
}

func newBook(spec output.Spec, loc *time.Location) *book {
	return &book{
		f: excelize.NewFile(), spec: spec, loc: loc, used: make(map[string]bool),
		styles: make(map[string]int), parts: make(map[string]*splice.Rows),
	}
}

// style returns the style ID for a custom number format, creating it once.
func (b *book) style(numFmt string) (int, error) {
	if id, ok := b.styles[numFmt]; ok {
		return id, nil
	}
	id, err := b.f.NewStyle(&excelize.Style{CustomNumFmt: &numFmt})
	if err != nil {
		return 0, fmt.Errorf("create style %s: %w", numFmt, err)
	}
	b.styles[numFmt] = id
	return id, nil
}

// addSheet adds a sheet named after base, valid and unique, and returns
// its name. The workbook's initial empty sheet is renamed for the first.
func (b *book) addSheet(base string) (string, error) {
	name := sheetName(base, b.used)
	b.used[strings.ToLower(name)] = true
	if b.sheets == 0 {
		if err := b.f.SetSheetName(b.f.GetSheetName(0), name); err != nil {
			return "", fmt.Errorf("sheet %q: %w", name, err)
		}
	} else if _, err := b.f.NewSheet(name); err != nil {
		return "", fmt.Errorf("sheet %q: %w", name, err)
	}
	b.sheets++
	return name, nil
}

// sheet returns the writer of a dataset; its sheet is created with its
// first row (or at Close), so a skipped empty dataset leaves no sheet.
// present holds the columns' configured presentation.
func (b *book) sheet(dataset string, cols []output.Column, present []output.ColumnSpec) (*sheetWriter, error) {
	if len(cols) > excelize.MaxColumns {
		return nil, fmt.Errorf("%d columns exceed excel's limit of %d", len(cols), excelize.MaxColumns)
	}
	if b.header == 0 {
		id, err := b.f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
		if err != nil {
			return nil, fmt.Errorf("create header style: %w", err)
		}
		b.header = id
	}
	w := &sheetWriter{
		b: b, dataset: dataset, name: dataset, cols: cols, present: present,
		maxRows:  b.spec.MaxRowsPerSheet,
		refs:     splice.ColRefs(len(cols)),
		scratch:  make([]byte, 0, 64),
		headers:  output.Headers(cols),
		styles:   make([]int, len(cols)),
		decText:  make([]bool, len(cols)),
		decimals: make([]string, len(cols)),
		widths:   make([]float64, len(cols)),
		cells:    make([]excelize.Cell, len(cols)),
		vals:     make([]any, len(cols)),
	}
	for i, c := range cols {
		numFmt := present[i].Format
		if numFmt == "" {
			numFmt = kindFormat(c)
		}
		if numFmt != "" {
			var err error
			if w.styles[i], err = b.style(numFmt); err != nil {
				return nil, err
			}
		}
		w.widths[i] = typeWidth(c)
		if c.Kind == output.KindDecimal {
			w.decimals[i] = b.spec.Decimals
			if d := present[i].Decimals; d != "" {
				w.decimals[i] = d
			}
			w.decText[i] = decimalsAsText(w.decimals[i], c)
		}
	}
	return w, nil
}

// maxExactDigits is how many significant decimal digits every double
// holds exactly (DBL_DIG) and Excel shows: a DECIMAL of at most as many
// Digits comes back from the nearest double with every digit right.
const maxExactDigits = 15

// decimalsAsText reports whether a DECIMAL column is text as a whole
// under the output's decimals setting: always, never, or (auto) when its
// declared precision is more than maxExactDigits or unknown. A column is
// one kind from its declared type, never number here and text there
// value by value, which would break sorting and sums.
func decimalsAsText(decimals string, c output.Column) bool {
	switch decimals {
	case "text":
		return true
	case "number":
		return false
	}
	return c.Precision == 0 || c.Precision > maxExactDigits
}

// kindFormat is the number format of a column's kind, "" for General.
func kindFormat(c output.Column) string {
	switch c.Kind {
	case output.KindInt, output.KindUint, output.KindYear, output.KindBit:
		return "0"
	case output.KindDecimal:
		return decimalFormat(int(c.Scale))
	case output.KindDate:
		return "yyyy-mm-dd"
	case output.KindDateTime:
		if c.Scale > 0 {
			return "yyyy-mm-dd hh:mm:ss.000"
		}
		return "yyyy-mm-dd hh:mm:ss"
	case output.KindTime:
		if c.Scale > 0 {
			return "[h]:mm:ss.000"
		}
		return "[h]:mm:ss"
	}
	return ""
}

func decimalFormat(scale int) string {
	if scale <= 0 {
		return "0"
	}
	return "0." + strings.Repeat("0", min(scale, 30))
}

// about adds the About sheet: what the run was and what each dataset
// holds. It uses the ordinary (not streaming) API: the sheet is small.
func (b *book) about(vars output.Vars, loc *time.Location, datasets []output.DatasetRows) error {
	name, err := b.addSheet("About")
	if err != nil {
		return err
	}
	stamp := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(loc).Format("2006-01-02 15:04:05 -07:00")
	}
	rows := [][]any{
		{"Job", vars.Job},
		{"Logical time", stamp(vars.Logical)},
	}
	if vars.RunID != "" {
		rows = append(rows, []any{"Run ID", vars.RunID})
	}
	if !vars.WindowStart.IsZero() || !vars.WindowEnd.IsZero() {
		rows = append(rows, []any{"Window from", stamp(vars.WindowStart)}, []any{"Window to", stamp(vars.WindowEnd)})
	}
	snapshot := "no: each dataset as of its own query"
	if vars.Snapshot != "" {
		snapshot = "yes: every sheet reads the data of one instant (" + vars.Snapshot + ")"
	}
	rows = append(rows,
		[]any{"Generated at", stamp(vars.RunTime)},
		[]any{"Time zone", loc.String()},
		[]any{"Joinery version", vars.Version},
		[]any{"Database host", vars.DBHost},
		[]any{"One snapshot", snapshot},
	)
	fields := len(rows)
	// Tables below the run's fields, each after an empty row: the
	// parameters (when the job has any), then the datasets. heads are
	// their header rows, from 1.
	var heads []int
	if len(vars.Params) > 0 {
		rows = append(rows, []any{}, []any{"Parameter", "Type", "Value"})
		heads = append(heads, len(rows))
		for _, p := range vars.Params {
			var v any = output.ParamText(p.Value, ", ", stamp)
			if n, ok := p.Value.(int64); ok {
				v = n
			}
			rows = append(rows, []any{p.Name, p.Type, v})
		}
	}
	rows = append(rows, []any{}, []any{"Dataset", "Rows", "Sheets"})
	heads = append(heads, len(rows))
	for _, d := range datasets {
		rows = append(rows, []any{d.Name, d.Rows, strings.Join(d.Sheets, ", ")})
	}
	for i, r := range rows {
		for j, v := range r {
			if s, ok := v.(string); ok {
				r[j], _ = xmlClean([]byte(s))
			}
		}
		if err := b.f.SetSheetRow(name, "A"+strconv.Itoa(i+1), &r); err != nil {
			return fmt.Errorf("about sheet: %w", err)
		}
	}
	// Labels in bold: the run's fields, then each table's header row.
	_ = b.f.SetCellStyle(name, "A1", "A"+strconv.Itoa(fields), b.header)
	for _, h := range heads {
		_ = b.f.SetCellStyle(name, "A"+strconv.Itoa(h), "C"+strconv.Itoa(h), b.header)
	}
	// The used range, for readers that trust it (openpyxl's read-only
	// mode); excelize leaves it at A1.
	_ = b.f.SetSheetDimension(name, "A1:C"+strconv.Itoa(len(rows)))
	_ = b.f.SetColWidth(name, "A", "A", 18)
	_ = b.f.SetColWidth(name, "B", "B", 30)
	_ = b.f.SetColWidth(name, "C", "C", 30)
	return nil
}

// save writes the workbook to w and removes the temporary files. The zip
// goes straight to w, with each sheet's rows deflated while they were
// written; see xlsxzip.go. The workbook's properties and the zip entries'
// dates come from vars.
func (b *book) save(w io.Writer, vars output.Vars) error {
	stamp := runStamp(vars)
	err := b.properties(vars)
	if err == nil && b.sst != nil {
		err = b.sst.Rows.Finish()
	}
	if err == nil {
		own := map[string][]byte{splice.CorePart: coreProperties(vars, stamp)}
		err = splice.Save(b.f, w, b.parts, b.sst, own, stamp.In(b.loc))
	}
	return errors.Join(err, b.close())
}

// runStamp is when the run started, the time a workbook is dated with:
// its creation and modification and its zip entries.
func runStamp(vars output.Vars) time.Time {
	switch {
	case !vars.RunTime.IsZero():
		return vars.RunTime
	case !vars.Logical.IsZero():
		return vars.Logical
	}
	return time.Now()
}

// application names joinery and its version, for the document properties
// that spreadsheet apps show (File > Properties).
func application(vars output.Vars) string {
	if vars.Version != "" {
		return "joinery " + vars.Version
	}
	return "joinery"
}

// properties sets the application of the extended properties: joinery and
// its version (excelize's default is "Go Excelize"). The version goes in
// Application, as LibreOffice puts its own: Excel refuses an AppVersion
// that is not "digits.4digits".
func (b *book) properties(vars output.Vars) error {
	if err := b.f.SetAppProps(&excelize.AppProperties{Application: application(vars)}); err != nil {
		return fmt.Errorf("application properties: %w", err)
	}
	return nil
}

// coreProperties is the workbook's core properties: joinery and its
// version as creator and last author, the job as title, the run's time as
// created and modified (excelize's defaults are creator "xuri", created
// 2006-09-16). Written here, not with excelize's SetDocProps: that puts
// the core properties in a default namespace, which exceljs refuses
// ("Unexpected xml node in parseOpen").
func coreProperties(vars output.Vars, stamp time.Time) []byte {
	var b bytes.Buffer
	app := application(vars)
	when := stamp.UTC().Format(time.RFC3339)
	b.WriteString(xml.Header)
	b.WriteString(`<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties"` +
		` xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/"` +
		` xmlns:dcmitype="http://purl.org/dc/dcmitype/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">`)
	for _, e := range [][2]string{{"dc:title", vars.Job}, {"dc:creator", app}, {"cp:lastModifiedBy", app}} {
		b.WriteString("<" + e[0] + ">")
		_ = xml.EscapeText(&b, []byte(e[1]))
		b.WriteString("</" + e[0] + ">")
	}
	b.WriteString(`<dcterms:created xsi:type="dcterms:W3CDTF">` + when + `</dcterms:created>`)
	b.WriteString(`<dcterms:modified xsi:type="dcterms:W3CDTF">` + when + `</dcterms:modified>`)
	b.WriteString(`</cp:coreProperties>`)
	return b.Bytes()
}

func (b *book) close() error {
	if !b.closed {
		b.closed = true
		errs := []error{b.f.Close()}
		for _, rows := range b.parts {
			errs = append(errs, rows.Remove())
		}
		if b.sst != nil {
			errs = append(errs, b.sst.Rows.Remove())
		}
		b.closeErr = errors.Join(errs...)
	}
	return b.closeErr
}

// sheetWriter streams one dataset into one sheet, and into further sheets
// when it outgrows one. It holds back the first sampleRows rows (copied) to
// size the columns from header, type and data, then streams every row.
// excelize's stream writer holds each sheet's settings and header row; the
// data rows go to rowsOut as XML, without allocating per row or cell.
type sheetWriter struct {
	b        *book
	sw       *excelize.StreamWriter
	rowsOut  *splice.Rows // the current sheet's data rows
	refs     []string     // column letters
	rowNum   []byte       // digits of row
	scratch  []byte
	dataset  string
	name     string   // the current sheet
	sheets   []string // every sheet of the dataset
	cols     []output.Column
	present  []output.ColumnSpec
	headers  []string
	styles   []int     // number format style per column
	decText  []bool    // per DECIMAL column: written as text (Spec.Decimals)
	decimals []string  // per DECIMAL column: auto, number or text
	widths   []float64 // widest value seen in the sample, per column
	sample   [][]output.Value
	started  bool
	maxRows  int             // data rows per sheet
	row      int             // last row written on the current sheet
	rows     int64           // data rows over all sheets
	cells    []excelize.Cell // header row
	vals     []any
	skipped  bool // empty and left out

	rounded     int64               // DECIMAL values of more digits than a number column's declared precision
	roundedCell string              // the first of them
	cut         int64               // text values cut at Excel's cell limit
	cutCells    []string            // the first few of them
	replaced    output.Replacements // text values with characters XML cannot hold
	// last is each column's previous cell, for a value equal to it (see
	// repeated).
	last []lastCell

	err    error
	closed bool
}

func (w *sheetWriter) WriteRow(row []output.Value) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return errors.New("write xlsx: writer is closed")
	}
	if len(row) != len(w.cols) {
		return w.fail(fmt.Errorf("got %d values for %d columns", len(row), len(w.cols)))
	}
	if !w.started {
		w.measure(row)
		w.sample = append(w.sample, copyRow(row))
		if len(w.sample) < sampleRows {
			return nil
		}
		return w.start()
	}
	return w.write(row)
}

func (w *sheetWriter) fail(err error) error {
	w.err = fmt.Errorf("write xlsx sheet %s: %w", w.name, err)
	return w.err
}

// measure widens the columns for one sampled row.
func (w *sheetWriter) measure(row []output.Value) {
	for i, v := range row {
		if v.Null {
			continue
		}
		var n float64
		switch k := w.cols[i].Kind; {
		case v.Literal, k == output.KindText:
			n = textWidth(v.Raw)
		case k == output.KindBinary:
			n = float64(2 * len(v.Raw))
			if w.b.spec.Binary == "base64" {
				n = float64((len(v.Raw) + 2) / 3 * 4)
			}
		case k == output.KindBit:
			n = 20
		case k == output.KindFloat:
			n = float64(min(len(v.Raw), 11)) // General shows about 11 characters
		case k == output.KindDate, k == output.KindDateTime:
			continue
		default:
			n = float64(len(v.Raw))
		}
		w.widths[i] = max(w.widths[i], n)
	}
}

// start writes the held-back rows, starting the first sheet.
func (w *sheetWriter) start() error {
	w.started = true
	if err := w.newSheet(); err != nil {
		return err
	}
	sample := w.sample
	w.sample = nil
	for _, row := range sample {
		if err := w.write(row); err != nil {
			return err
		}
	}
	return nil
}

// newSheet adds a sheet for the dataset and sets its column widths,
// hidden columns and frozen header (all must precede the first row), then
// writes the header.
func (w *sheetWriter) newSheet() error {
	name, err := w.b.addSheet(w.dataset)
	if err != nil {
		return w.fail(err)
	}
	w.name = name
	w.sheets = append(w.sheets, name)
	if w.sw, err = w.b.f.NewStreamWriter(name); err != nil {
		return w.fail(err)
	}
	if w.rowsOut, err = splice.NewRows(w.b.scratch); err != nil {
		return w.fail(err)
	}
	if w.b.spec.Strings == "shared" && w.b.sst == nil {
		rows, err := splice.NewRows(w.b.scratch)
		if err != nil {
			return w.fail(err)
		}
		w.b.sst = &splice.SharedStrings{Rows: rows}
	}
	w.b.parts[splice.SheetPart(w.sw.SheetID)] = w.rowsOut
	// From the last column to the first: excelize puts each column it is
	// given before those it has, so the sheet lists them in ascending
	// order, as Excel writes them (given in order, they came out last
	// first).
	for i := len(w.headers) - 1; i >= 0; i-- {
		h := w.headers[i]
		// A bold header plus the table's filter button needs about 4 more.
		width := min(max(textWidth([]byte(h))+4, w.widths[i]+2, minWidth), maxWidth)
		if p := w.present[i]; p.Width > 0 {
			width = p.Width
		}
		if err := w.sw.SetColWidth(i+1, i+1, width); err != nil {
			return w.fail(err)
		}
		if w.present[i].Hidden {
			if err := w.sw.SetColVisible(i+1, i+1, false); err != nil {
				return w.fail(err)
			}
		}
	}
	if err := w.sw.SetPanes(&excelize.Panes{
		Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft",
		Selection: []excelize.Selection{{SQRef: "A2", ActiveCell: "A2", Pane: "bottomLeft"}},
	}); err != nil {
		return w.fail(err)
	}
	for i, h := range w.headers {
		w.cells[i] = excelize.Cell{StyleID: w.b.header, Value: h}
		w.vals[i] = &w.cells[i]
	}
	w.row = 1
	if err := w.sw.SetRow("A1", w.vals); err != nil {
		return w.fail(err)
	}
	if w.b.sst != nil {
		// excelize's header cells are inline strings (its table reads
		// their text); the splicer puts this row in their place.
		h := append([]byte(nil), `<row r="1">`...)
		w.rowNum = append(w.rowNum[:0], '1')
		for i, text := range w.headers {
			h = splice.AppendCellStart(h, w.refs[i], w.rowNum, w.b.header)
			h, _, _ = w.b.sst.Add(h, []byte(text), false)
		}
		w.rowsOut.Header = append(h, `</row>`...)
	}
	return nil
}

// endSheet adds the filter table and flushes the current sheet.
func (w *sheetWriter) endSheet() error {
	// Filter buttons come from a table over header and data; excelize
	// stretches a header-only range to two rows, as a table needs.
	last, err := excelize.CoordinatesToCellName(len(w.cols), max(w.row, 2))
	if err != nil {
		return w.fail(err)
	}
	show := false
	if err := w.sw.AddTable(&excelize.Table{Range: "A1:" + last, ShowRowStripes: &show}); err != nil {
		return w.fail(fmt.Errorf("add table: %w", err))
	}
	if err := w.sw.Flush(); err != nil {
		return w.fail(err)
	}
	w.rowsOut.Dimension = "A1:" + w.refs[len(w.refs)-1] + strconv.Itoa(w.row)
	if err := w.rowsOut.Finish(); err != nil {
		return w.fail(err)
	}
	return nil
}

// write appends one row's XML to the current sheet's rows, continuing on a
// new sheet when that one is full; nothing is allocated.
func (w *sheetWriter) write(row []output.Value) error {
	if w.row > w.maxRows {
		if len(w.sheets) >= maxSheetsPerDataset {
			return w.fail(errSheetFull)
		}
		if err := w.endSheet(); err != nil {
			return err
		}
		if err := w.newSheet(); err != nil {
			return err
		}
	}
	w.row++
	w.rows++
	rs := w.rowsOut
	w.rowNum = strconv.AppendInt(w.rowNum[:0], int64(w.row), 10)
	b := append(rs.Buf, `<row r="`...)
	b = append(b, w.rowNum...)
	b = append(b, `">`...)
	emptyZero := w.b.spec.ZeroDates == "empty"
	for i := range row {
		if v := &row[i]; !v.Null && !(v.Literal && emptyZero) {
			b = w.repeated(b, i, v)
		}
	}
	rs.Buf = append(b, `</row>`...)
	rs.Flush(false)
	return nil
}

// lastCell is a column's previous cell: its value and its XML after the
// cell's reference.
type lastCell struct {
	raw     []byte
	literal bool
	tail    []byte
	ok      bool
	// hits and misses count the column's cells that repeated the one
	// above and those that did not; off stops keeping the last cell of a
	// column that rarely repeats (a key, a timestamp), which would only
	// pay for the copies.
	hits, misses int
	off          bool
}

// repeated appends the XML of one non-NULL cell (see cell), reusing the
// previous row's when the value is the same. A join repeats the columns of
// one side for each matching row of the other (a user's for each of their
// posts): those cells are formatted once, not once per row. The value is
// compared by its text as MySQL sent it, which the Normalizer derives
// Time from. Only a cell that needed no warning (cut, replaced
// characters, rounding) is reused, so the counts stay per cell; nor with
// shared strings, whose table counts every reference.
func (w *sheetWriter) repeated(b []byte, i int, v *output.Value) []byte {
	if w.last == nil {
		w.last = make([]lastCell, len(w.cols))
	}
	m := &w.last[i]
	if m.off {
		return w.cell(b, i, v)
	}
	if m.ok && m.literal == v.Literal && bytes.Equal(m.raw, v.Raw) {
		m.hits++
		b = splice.AppendCellStart(b, w.refs[i], w.rowNum, 0)
		return append(b, m.tail...)
	}
	if m.misses++; m.misses >= repeatProbe && m.hits*16 < m.misses {
		m.off = true
	}
	start, warned := len(b), w.warned()
	b = w.cell(b, i, v)
	m.ok = w.b.sst == nil && w.warned() == warned
	if m.ok {
		head := len(`<c r="`) + len(w.refs[i]) + len(w.rowNum) + len(`"`) // AppendCellStart's, without a style
		m.tail = append(m.tail[:0], b[start+head:]...)
		m.raw = append(m.raw[:0], v.Raw...)
		m.literal = v.Literal
	}
	return b
}

// repeatProbe is how many cells of a column repeated tells whether it
// repeats: one in 16 or more keeps its last cell (see lastCell.off).
const repeatProbe = 256

// warned is how many cells have had a warning so far.
func (w *sheetWriter) warned() int64 { return w.rounded + w.cut + w.replaced.Values() }

// cell appends the XML of one non-NULL cell.
func (w *sheetWriter) cell(b []byte, i int, v *output.Value) []byte {
	col, ref, row := &w.cols[i], w.refs[i], w.rowNum
	if v.Literal {
		return w.text(b, i, v.Raw)
	}
	style := w.styles[i]
	switch col.Kind {
	case output.KindInt, output.KindUint, output.KindYear:
		if n, ok := output.SigDigits(v.Raw); ok && n <= 15 {
			if x, ok := output.ParseInt(v.Raw); ok {
				w.scratch = strconv.AppendInt(w.scratch[:0], x, 10)
				return splice.AppendNumberCell(b, ref, row, style, w.scratch)
			}
		}
	case output.KindBit:
		if n, ok := output.BitValue(v.Raw); ok {
			w.scratch = output.AppendUint(w.scratch[:0], n)
			if n < 1e15 {
				return splice.AppendNumberCell(b, ref, row, style, w.scratch)
			}
			return w.plain(b, i, w.scratch)
		}
	case output.KindDecimal:
		if w.decText[i] {
			return w.text(b, i, v.Raw)
		}
		if f, err := strconv.ParseFloat(string(v.Raw), 64); err == nil && !math.IsInf(f, 0) {
			if w.decimals[i] == "auto" && output.DecimalDigits(v.Raw) > maxExactDigits {
				// The driver reports an UNSIGNED DECIMAL's precision one
				// short; the value is the double nearest to it.
				if w.rounded++; w.rounded == 1 {
					w.roundedCell = w.cellRef(i)
				}
			}
			b, w.scratch = splice.AppendFloatCell(b, ref, row, style, f, w.scratch)
			return b
		}
	case output.KindFloat:
		if f, err := strconv.ParseFloat(string(v.Raw), 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			b, w.scratch = splice.AppendFloatCell(b, ref, row, style, f, w.scratch)
			return b
		}
	case output.KindDate:
		if serial, ok := splice.ExcelSerial(v.Time); ok {
			b, w.scratch = splice.AppendFloatCell(b, ref, row, style, serial, w.scratch)
			return b
		}
		w.scratch = output.AppendDate(w.scratch[:0], v.Time)
		return w.plain(b, i, w.scratch)
	case output.KindDateTime:
		t := v.Time.In(w.b.loc)
		if serial, ok := splice.ExcelSerial(t); ok {
			b, w.scratch = splice.AppendFloatCell(b, ref, row, style, serial, w.scratch)
			return b
		}
		w.scratch = output.AppendISO(w.scratch[:0], t, col.Scale, output.ISOLayout(col.Scale))
		return w.plain(b, i, w.scratch)
	case output.KindTime:
		if d, ok := parseDuration(v.Raw); ok {
			b, w.scratch = splice.AppendFloatCell(b, ref, row, style, d, w.scratch)
			return b
		}
	case output.KindBinary:
		w.scratch = output.AppendBinary(w.scratch[:0], v.Raw, w.b.spec.Binary == "base64")
		return w.plain(b, i, w.scratch)
	}
	return w.text(b, i, v.Raw)
}

// text appends a text cell that Excel keeps as it is: characters XML
// cannot hold become U+FFFD and text over 32,767 characters is cut, ending
// in truncMarker. Both are counted for Warnings, naming cells.
func (w *sheetWriter) text(b []byte, i int, text []byte) []byte {
	cut := false
	if len(text) > excelize.TotalCellChars {
		if n := splice.UTF16LenBytes(text); n > excelize.TotalCellChars {
			if len(w.cutCells) < maxNamedCells {
				w.cutCells = append(w.cutCells, fmt.Sprintf("%s (%d characters)", w.cellRef(i), n))
			}
			w.cut++
			text = splice.TruncUTF16Bytes(text, excelize.TotalCellChars-utf16Len(splice.TruncMarker))
			cut = true
		}
	}
	b, invalid, unfit := w.str(b, i, text, cut)
	if invalid > 0 || unfit > 0 {
		w.replaced.Note(invalid, unfit, func() string { return w.cellRef(i) })
	}
	return b
}

// plain appends a text cell whose text needs no cleaning (digits, dates,
// hex...).
func (w *sheetWriter) plain(b []byte, i int, text []byte) []byte {
	b, _, _ = w.str(b, i, text, false)
	return b
}

// str appends an unstyled text cell for column i: an inline string, or
// with strings: shared an index into the workbook's shared strings. See
// appendT for cut and the counts returned.
func (w *sheetWriter) str(b []byte, i int, text []byte, cut bool) ([]byte, int, int) {
	b = splice.AppendCellStart(b, w.refs[i], w.rowNum, 0)
	if w.b.sst != nil {
		return w.b.sst.Add(b, text, cut)
	}
	return splice.AppendInlineStr(b, text, cut)
}

// cellRef names column i's cell in the row being written, e.g. "posts!C12".
func (w *sheetWriter) cellRef(i int) string {
	return w.name + "!" + w.refs[i] + string(w.rowNum)
}

func (w *sheetWriter) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	if !w.started {
		if len(w.sample) == 0 && w.b.skipEmpty {
			w.skipped = true
			return nil
		}
		if err := w.start(); err != nil {
			return err
		}
	}
	return w.endSheet()
}

// Warnings describes values Excel could not hold as they were, and
// DECIMAL columns written as text.
func (w *sheetWriter) Warnings() []string {
	var out []string
	for i, c := range w.cols {
		if c.Kind == output.KindDecimal && w.decText[i] && w.decimals[i] == "auto" {
			what := "its precision is unknown"
			if c.Precision > 0 {
				what = fmt.Sprintf("DECIMAL(%d,%d) holds up to %d significant digits, more than the %d a spreadsheet number keeps", c.Precision, c.Scale, c.Precision, maxExactDigits)
			}
			out = append(out, fmt.Sprintf("dataset %s: xlsx: column %s written as text: %s (decimals: number, for the output or the column, writes numbers)", w.dataset, c.Name, what))
		}
	}
	if w.rounded > 0 {
		out = append(out, fmt.Sprintf("dataset %s: xlsx: %d DECIMAL %s more than %d significant digits, written as the nearest number (the first in %s)", w.dataset, w.rounded, output.Plural(w.rounded, "value had", "values had"), maxExactDigits, w.roundedCell))
	}
	if w.cut > 0 {
		more := ""
		if w.cut > int64(len(w.cutCells)) {
			more = fmt.Sprintf(" and %d more", w.cut-int64(len(w.cutCells)))
		}
		out = append(out, fmt.Sprintf("dataset %s: %d text values longer than excel's 32767 characters were truncated and end in %q: %s%s",
			w.dataset, w.cut, splice.TruncMarker, strings.Join(w.cutCells, ", "), more))
	}
	if msg := w.replaced.Warning("xlsx", "characters xlsx cannot hold (control characters, U+FFFE, U+FFFF)"); msg != "" {
		out = append(out, "dataset "+w.dataset+": "+msg)
	}
	return out
}

func (w *sheetWriter) Done() bool       { return w.closed }
func (w *sheetWriter) Failed() error    { return w.err }
func (w *sheetWriter) RowCount() int64  { return w.rows }
func (w *sheetWriter) Sheets() []string { return w.sheets }

// textWidth estimates how many '0'-widths text takes: East Asian wide
// characters and emoji count double. It stops counting past maxWidth.
func textWidth(b []byte) float64 {
	n := 0
	for len(b) > 0 && n <= maxWidth {
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		switch {
		case r == '\n':
			n = 0 // a cell's widest line matters, roughly
		case r >= 0x1100 && (r <= 0x115f || r >= 0x2e80 && r <= 0xa4cf || r >= 0xac00 && r <= 0xd7a3 ||
			r >= 0xf900 && r <= 0xfaff || r >= 0xfe30 && r <= 0xfe4f || r >= 0xff00 && r <= 0xff60 ||
			r >= 0xffe0 && r <= 0xffe6 || r >= 0x1f300 && r <= 0x1faff || r >= 0x20000 && r <= 0x3fffd):
			n += 2
		default:
			n++
		}
	}
	return float64(n)
}

// parseDuration reads a non-negative TIME "H+:MM:SS[.f]" as a fraction of
// days; negative or malformed values are left as text.
func parseDuration(b []byte) (float64, bool) {
	c1 := -1
	for j, c := range b {
		if c == ':' {
			c1 = j
			break
		}
	}
	if c1 < 1 || len(b) < c1+6 || b[c1+3] != ':' {
		return 0, false
	}
	h, ok1 := output.Digits(b[:c1])
	m, ok2 := output.Digits(b[c1+1 : c1+3])
	s, ok3 := output.Digits(b[c1+4 : c1+6])
	if !ok1 || !ok2 || !ok3 || m > 59 || s > 59 {
		return 0, false
	}
	nanos := int64(0)
	if rest := b[c1+6:]; len(rest) > 0 {
		if rest[0] != '.' || len(rest) < 2 || len(rest) > 10 {
			return 0, false
		}
		f, ok := output.Digits(rest[1:])
		if !ok {
			return 0, false
		}
		nanos = int64(f)
		for k := len(rest) - 1; k < 9; k++ {
			nanos *= 10
		}
	}
	total := (int64(h)*3600+int64(m)*60+int64(s))*1e9 + nanos
	return float64(total) / 86400e9, true
}

// copyRow copies a row's values out of the driver's buffers.
func copyRow(row []output.Value) []output.Value {
	n := 0
	for _, v := range row {
		n += len(v.Raw)
	}
	buf := make([]byte, 0, n)
	out := make([]output.Value, len(row))
	for i, v := range row {
		out[i] = v
		if v.Raw != nil {
			start := len(buf)
			buf = append(buf, v.Raw...)
			out[i].Raw = buf[start:len(buf):len(buf)]
		}
	}
	return out
}

// typeWidth is the width a column's kind needs whatever its data.
func typeWidth(c output.Column) float64 {
	switch c.Kind {
	case output.KindDate:
		return 10
	case output.KindDateTime:
		if c.Scale > 0 {
			return 23
		}
		return 19
	}
	return 0
}

// sheetName makes a dataset name a valid, unique Excel sheet name: at most
// 31 UTF-16 units, none of []:*?/\ or control characters, no leading or
// trailing apostrophe, not "History" (reserved by Excel), unique ignoring
// case (a " (2)" suffix is added).
func sheetName(dataset string, used map[string]bool) string {
	s := strings.Map(func(r rune) rune {
		if strings.ContainsRune(`[]:*?/\`, r) || r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return '_'
		}
		return r
	}, dataset)
	s = strings.Trim(s, "'")
	if s == "" {
		s = "Sheet"
	}
	if strings.EqualFold(s, "history") {
		s += "_"
	}
	base := s
	s = strings.Trim(truncUTF16(base, 31), "'")
	for n := 2; used[strings.ToLower(s)] || s == ""; n++ {
		suffix := " (" + strconv.Itoa(n) + ")"
		s = strings.TrimRight(truncUTF16(base, 31-len(suffix)), "'") + suffix
	}
	return s
}

// xmlUnsafe reports whether b holds something XML 1.0 cannot carry:
// control characters other than tab, LF and CR, invalid UTF-8, U+FFFE or
// U+FFFF.
func xmlUnsafe(b []byte) bool {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 || r == 0xFFFE || r == 0xFFFF {
			return true
		}
		i += size
	}
	return false
}

// xmlClean returns b as a string with every character XML cannot hold
// replaced by U+FFFD, and how many were replaced.
func xmlClean(b []byte) (string, int) {
	if !xmlUnsafe(b) {
		return string(b), 0
	}
	out := make([]byte, 0, len(b)+8)
	n := 0
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		i += size
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == utf8.RuneError && size == 1 || r == 0xFFFE || r == 0xFFFF {
			r = utf8.RuneError
			n++
		}
		out = utf8.AppendRune(out, r)
	}
	return string(out), n
}

// utf16Len counts s in UTF-16 code units, the unit of Excel's limits.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += max(utf16.RuneLen(r), 1)
	}
	return n
}

// truncUTF16 cuts s to at most n UTF-16 code units without splitting a rune.
func truncUTF16(s string, n int) string {
	units := 0
	for i, r := range s {
		units += max(utf16.RuneLen(r), 1)
		if units > n {
			return s[:i]
		}
	}
	return s
}
