// Reads a workbook with exceljs (the module at $JOINERY_EXCELJS) and prints
// it as read_openpyxl.py does: each cell [type, value, numFmt], type "n"
// number, "s" text, "d" date (the ISO 8601 form of the Date exceljs made,
// which holds the wall clock as UTC) or "b" bool, an empty cell's value
// null.
const ExcelJS = require(process.env.JOINERY_EXCELJS);

(async () => {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.readFile(process.argv[2]);
  const sheets = [];
  const cells = {};
  wb.eachSheet((ws) => {
    const rows = [];
    for (let r = 1; r <= ws.rowCount; r++) {
      const row = ws.getRow(r);
      const out = [];
      for (let c = 1; c <= row.cellCount; c++) {
        const cell = row.getCell(c);
        const v = cell.value;
        let typed;
        if (v === null || v === undefined) typed = ['n', null];
        else if (typeof v === 'number') typed = ['n', v];
        else if (typeof v === 'boolean') typed = ['b', v];
        else if (v instanceof Date) typed = ['d', v.toISOString()];
        else if (typeof v === 'string') typed = ['s', v];
        else if (v.richText) typed = ['s', v.richText.map((t) => t.text).join('')];
        else typed = ['s', JSON.stringify(v)];
        out.push([typed[0], typed[1], cell.numFmt || null]);
      }
      rows.push(out);
    }
    sheets.push(ws.name);
    cells[ws.name] = rows;
  });
  process.stdout.write(JSON.stringify({ sheets, cells }));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
