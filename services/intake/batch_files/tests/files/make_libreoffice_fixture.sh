#!/usr/bin/env bash
# Makes the LibreOffice-written .xlsx fixtures from their CSVs (libreoffice_template_b.csv, libreoffice_cme_moc.csv).
#
# The .xlsx files are committed: the test suite reads them without LibreOffice. They are there because
# LibreOffice, like Excel, turns what a provider types into typed cells: "06/12" into a date of this year,
# "11/2/2021" into a date, IDs and credits into numbers, TRUE into a boolean. The reader must give back the
# same records as from the text itself (test_tabular.py checks it).
#
# Usage: make_libreoffice_fixture.sh [OUTPUT_DIR]   (default: this folder; needs soffice on PATH)
# Import options: comma-separated, '"' quoted, UTF-8 (76), from line 1, standard cells, English (US) so
# MM/DD dates are read as such, quoted fields not forced to text, special numbers (dates) detected.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$(mkdir -p "${1:-$here}" && cd "${1:-$here}" && pwd)"
profile="$(mktemp -d)"  # a throw-away LibreOffice profile: no clash with a running LibreOffice or another run
trap 'rm -rf "$profile"' EXIT

for name in libreoffice_template_b libreoffice_cme_moc; do
    soffice -env:UserInstallation="file://$profile" --headless --norestore \
        --infilter="CSV:44,34,76,1,,1033,false,true" \
        --convert-to xlsx:"Calc MS Excel 2007 XML" --outdir "$out" "$here/$name.csv" >/dev/null
    test -s "$out/$name.xlsx" || { echo "soffice did not write $out/$name.xlsx" >&2; exit 1; }
done
echo "wrote $out/libreoffice_template_b.xlsx $out/libreoffice_cme_moc.xlsx"
