"""Shared format rules for generated doc sections (used by their format checks).

`problems(text, heading, keys, table_header, cells)` returns what is wrong with a section: its
first line must be `heading`, it must have a line starting with each of `keys`, and a table with
`table_header` whose rows (the `| ` lines after the header and its separator) have `cells`
cells. It returns the list of problems and the rows as lists of stripped cells.
"""


def problems(text, heading, keys, table_header, cells):
    lines = text.splitlines()
    found = []
    if not lines or lines[0] != heading:
        found.append(f"first line is not the heading {heading!r}")
    for key in keys:
        if not any(line.startswith(key) for line in lines):
            found.append(f"no '{key.strip()}' line")
    if table_header not in lines:
        return found + ["the table header is not the generator's"], []
    rows = []
    for line in lines[lines.index(table_header) + 2:]:
        if not line.startswith("| "):
            continue
        row = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(row) != cells:
            found.append(f"row without {cells} cells: {line}")
        rows.append(row)
    if not rows:
        found.append("no table rows")
    return found, rows
