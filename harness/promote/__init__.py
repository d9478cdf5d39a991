"""`harness promote`: push exactly what a local run verified to AWS, gated on its run record."""
