"""Reports (issue 17): what a tenant's data becomes for people outside the API, the
streamed exports of its rows (`kinds.py` says what each kind is made of, `exports.py`
checks the filters and reads the rows in keyset batches, `formats.py` and `xlsx.py`
write CSV, JSON and XLSX) and the monthly KPI report.

It only reads, any context's rows, so it sits above billing in the context order.
"""
