"""`learn report`: one self-contained HTML page drawn from the --report-json model (learn.report)."""
