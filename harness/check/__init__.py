"""`harness check`: run any image under a SageMaker container contract and
report one line per named check, with the rule behind it and the evidence."""
