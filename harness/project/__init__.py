"""This repository's own workflow: its images, run-local, the run record, doctor, its settings."""
