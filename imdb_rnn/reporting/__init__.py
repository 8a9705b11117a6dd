"""The run report: tables, markdown, HTML and charts, from the evaluations of one run."""
