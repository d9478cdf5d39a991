"""Stand-ins for AWS's own framework and algorithm images.

A job, model or transform that names an AWS image (`sagemaker.image_uris.retrieve(...)`: any region, any of
AWS's accounts) which is not present locally runs on a stand-in built here from PyPI wheels, with AWS's library
pins where they install on this machine's CPython and the nearest that does where they do not (said on every
use). Stand-ins are labelled as such and never pushed by `harness promote`.

    aws.py       recognise AWS's image URIs (from the SDK's own image_uri_config, read without importing it)
    recipes.py   per framework version: AWS's pins, the lock, and what differs from AWS's image
    standins.py  build (cached), tag under the URI, report
    <framework>/ the Dockerfile and lock files of each stand-in
    runtime/     the programs inside the stand-ins (the training module, the model server)
"""
