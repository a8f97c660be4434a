package splice

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

// The contract with excelize: what the splice assumes of the workbook
// excelize writes. Each test here fails when an excelize upgrade changes
// one of those assumptions, before a workbook comes out wrong.

// recorder is an excelize.ZipWriter that keeps every part excelize writes.
type recorder struct {
	parts map[string]*bytes.Buffer
	order []string
}

func (r *recorder) Create(name string) (io.Writer, error) {
	b := new(bytes.Buffer)
	r.parts[name] = b
	r.order = append(r.order, name)
	return b, nil
}
func (r *recorder) AddFS(fs.FS) error { return nil }
func (r *recorder) Close() error      { return nil }

// streamedBook makes a workbook as xlsxw's book does: the first sheet
// renamed, the others added, each written by a stream writer holding only
// its header row (with a filter table), and returns the sheets' IDs.
func streamedBook(t *testing.T, names ...string) (*excelize.File, []int) {
	t.Helper()
	f := excelize.NewFile()
	t.Cleanup(func() { f.Close() })
	var ids []int
	for i, name := range names {
		if i == 0 {
			if err := f.SetSheetName(f.GetSheetName(0), name); err != nil {
				t.Fatal(err)
			}
		} else if _, err := f.NewSheet(name); err != nil {
			t.Fatal(err)
		}
		sw, err := f.NewStreamWriter(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := sw.SetRow("A1", []any{excelize.Cell{Value: "id"}, excelize.Cell{Value: "name"}}); err != nil {
			t.Fatal(err)
		}
		if err := sw.AddTable(&excelize.Table{Range: "A1:B2"}); err != nil {
			t.Fatal(err)
		}
		if err := sw.Flush(); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sw.SheetID)
	}
	return f, ids
}

// TestExcelizePartNames: excelize stores a sheet of ID n, made by NewFile
// or NewSheet, as SheetPart(n), and writes the parts the splice rewrites
// or adds to: the core properties, the workbook's relationships, the
// content types, and, once a sheet of its own has a string, the shared
// strings.
func TestExcelizePartNames(t *testing.T) {
	f, ids := streamedBook(t, "data", "more", "third")
	// The About sheet: a sheet of excelize's own, with a string.
	if _, err := f.NewSheet("About"); err != nil {
		t.Fatal(err)
	}
	if err := f.SetCellValue("About", "A1", "Job"); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{parts: make(map[string]*bytes.Buffer)}
	f.SetZipWriter(func(io.Writer) excelize.ZipWriter { return rec })
	if err := f.Write(io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if _, ok := rec.parts[SheetPart(id)]; !ok {
			t.Errorf("no part %s for sheet %d: parts %q", SheetPart(id), id, rec.order)
		}
	}
	for _, name := range []string{CorePart, workbookRelsPart, contentTypesPart} {
		if _, ok := rec.parts[name]; !ok {
			t.Errorf("excelize wrote no %s: parts %q", name, rec.order)
		}
	}
	if !slices.ContainsFunc(rec.order, sstTouches) {
		t.Errorf("no part the shared strings touch among %q", rec.order)
	}
}

// TestExcelizeStreamedSheet: a sheet excelize's stream writer holds only
// the header of has one </sheetData>, after the header row r="1", and a
// <dimension ref="..."> before it: where the splice puts the rows, the
// header and the used range.
func TestExcelizeStreamedSheet(t *testing.T) {
	f, ids := streamedBook(t, "data")
	rec := &recorder{parts: make(map[string]*bytes.Buffer)}
	f.SetZipWriter(func(io.Writer) excelize.ZipWriter { return rec })
	if err := f.Write(io.Discard); err != nil {
		t.Fatal(err)
	}
	sheet := rec.parts[SheetPart(ids[0])].Bytes()
	if n := bytes.Count(sheet, []byte("</sheetData>")); n != 1 {
		t.Fatalf("%d </sheetData> in the sheet, want 1:\n%s", n, sheet)
	}
	cut := bytes.Index(sheet, []byte("</sheetData>"))
	head := sheet[:cut]
	if i := bytes.Index(head, []byte(`<row r="1"`)); i < 0 || !bytes.Contains(head[i:], []byte("</row>")) {
		t.Errorf("no header row before </sheetData>:\n%s", head)
	}
	if bytes.Contains(head, []byte(`<row r="2"`)) {
		t.Errorf("a second row before </sheetData>:\n%s", head)
	}
	if _, err := setDimension(head, "A1:B3"); err != nil {
		t.Errorf("setDimension: %v\n%s", err, head)
	}
	if _, err := setHeader(head, []byte(`<row r="1"></row>`)); err != nil {
		t.Errorf("setHeader: %v\n%s", err, head)
	}
}

// scratch is NewRows's scratch file, in the test's folder.
func scratch(t *testing.T) func() (*os.File, func() error, error) {
	return func() (*os.File, func() error, error) {
		f, err := os.CreateTemp(t.TempDir(), "rows-")
		if err != nil {
			return nil, nil, err
		}
		return f, f.Close, nil
	}
}

// TestSpliceReadBack: a workbook with rows spliced in, none (a header-only
// sheet) or many, reads back in excelize as written, used range and all,
// with inline and with shared strings.
func TestSpliceReadBack(t *testing.T) {
	for _, shared := range []bool{false, true} {
		for _, n := range []int{0, 1, 3000} {
			t.Run(fmt.Sprintf("shared=%v/rows=%d", shared, n), func(t *testing.T) {
				f, ids := streamedBook(t, "data")
				rows, err := NewRows(scratch(t))
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Remove()
				var sst *SharedStrings
				if shared {
					r, err := NewRows(scratch(t))
					if err != nil {
						t.Fatal(err)
					}
					defer r.Remove()
					sst = &SharedStrings{Rows: r}
				}
				refs := ColRefs(2)
				want := [][]string{{"id", "name"}}
				for i := range n {
					num := []byte(strconv.Itoa(i + 2))
					text := fmt.Sprintf("name <%d> & co", i)
					rows.Buf = append(rows.Buf, `<row r="`...)
					rows.Buf = append(rows.Buf, num...)
					rows.Buf = append(rows.Buf, `">`...)
					rows.Buf, _ = AppendFloatCell(rows.Buf, refs[0], num, 0, float64(i)+0.5, nil)
					rows.Buf = AppendCellStart(rows.Buf, refs[1], num, 0)
					if sst != nil {
						rows.Buf, _, _ = sst.Add(rows.Buf, []byte(text), false)
					} else {
						rows.Buf, _, _ = AppendInlineStr(rows.Buf, []byte(text), false)
					}
					rows.Buf = append(rows.Buf, `</row>`...)
					rows.Flush(false)
					want = append(want, []string{strconv.FormatFloat(float64(i)+0.5, 'f', -1, 64), text})
				}
				rows.Dimension = "A1:B" + strconv.Itoa(n+1)
				if err := rows.Finish(); err != nil {
					t.Fatal(err)
				}
				if sst != nil {
					if err := sst.Rows.Finish(); err != nil {
						t.Fatal(err)
					}
				}
				var buf bytes.Buffer
				stamp := time.Date(2024, 3, 1, 6, 0, 0, 0, time.UTC)
				if err := Save(f, &buf, map[string]*Rows{SheetPart(ids[0]): rows}, sst, nil, stamp); err != nil {
					t.Fatal(err)
				}
				g, err := excelize.OpenReader(&buf)
				if err != nil {
					t.Fatal(err)
				}
				defer g.Close()
				got, err := g.GetRows("data")
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(want) {
					t.Fatalf("%d rows read back, want %d", len(got), len(want))
				}
				for i := range want {
					if strings.Join(got[i], "|") != strings.Join(want[i], "|") {
						t.Fatalf("row %d: %q, want %q", i+1, got[i], want[i])
					}
				}
				if dim, err := g.GetSheetDimension("data"); err != nil || dim != rows.Dimension {
					t.Errorf("dimension %q (%v), want %q", dim, err, rows.Dimension)
				}
			})
		}
	}
}
