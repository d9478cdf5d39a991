"""The reusable local SageMaker: the local AWS endpoint (the protocol server),
the control plane, the pipeline executor, jobs, hosting, storage, the registry
and the jobs' logs. It knows nothing about this repository."""
