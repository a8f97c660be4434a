"""Reads a workbook with openpyxl, independently of excelize, and prints its
sheet names and every cell as [data_type, value, number_format] in JSON.

Dates come out as ISO 8601 text, durations as seconds."""
import datetime
import json
import sys

import openpyxl

wb = openpyxl.load_workbook(sys.argv[1])
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
            out.append([c.data_type, v, c.number_format])
        rows.append(out)
    cells[ws.title] = rows
json.dump({"sheets": wb.sheetnames, "cells": cells}, sys.stdout)
