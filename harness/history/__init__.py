"""What is kept of every run: its record, its steps' logs, its HTML report and, after a failure with
`--keep-on-failure`, the failed step's container and work folder; and the commands that read them back
(`harness runs`, `harness logs`, `harness report`, `harness debug`)."""
