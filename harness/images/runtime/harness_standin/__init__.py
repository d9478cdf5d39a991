"""Programs inside the harness's stand-ins for AWS's framework images (not imported by the harness itself)."""
