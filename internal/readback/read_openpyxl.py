"""Reads a workbook with openpyxl and prints its sheet names and every cell
as [data_type, value, number_format] in JSON: {"sheets": [names],
"cells": {name: rows}}. Dates come out as ISO 8601 text, durations as
seconds, an empty cell's value as null.

With --read-only it opens the workbook in read-only mode, the mode for big
files, which trusts each sheet's <dimension> and gives durations as dates."""
import datetime
import json
import sys

import openpyxl

wb = openpyxl.load_workbook(sys.argv[1], read_only="--read-only" in sys.argv[2:])
cells = {}
for ws in wb.worksheets:
    rows = []
    for row in ws.iter_rows():
        out = []
        for c in row:
            v = c.value
            if isinstance(v, datetime.timedelta):
                v = v.total_seconds()
            elif isinstance(v, (datetime.datetime, datetime.date, datetime.time)):
                v = v.isoformat()
            out.append([c.data_type, v, getattr(c, "number_format", None)])
        rows.append(out)
    cells[ws.title] = rows
json.dump({"sheets": wb.sheetnames, "cells": cells}, sys.stdout)
