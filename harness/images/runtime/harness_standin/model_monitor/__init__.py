"""A local stand-in for AWS's Model Monitor analyzer container (`sagemaker-model-monitor-analyzer`).

AWS's image runs Spark and Deequ; this one computes the same files with pandas and numpy, from the environment
AWS documents for the container ("Container Contract Inputs") and the SageMaker Python SDK sets:

- baselining (no `baseline_constraints`): `statistics.json` and `constraints.json` in `output_path`;
- monitoring (`baseline_constraints` set): `statistics.json` and `constraint_violations.json`;
- `analysis_type=MODEL_QUALITY`: the problem type's metrics instead of per-feature statistics.

Modules: contract (environment -> Config), datasets (readers, captured records, the record preprocessor),
data_quality (statistics, suggested constraints), drift (data quality violations), model_quality (metrics,
their constraints and violations); `python3 -m harness_standin.model_monitor` runs one job.
"""
