"""SAGEMAKER_TRAINING_MODULE of the stand-ins: script mode, as AWS's framework containers run it.

AWS's sklearn container's training module hands the job to the training toolkit (`sagemaker-training`, installed
in the image from PyPI): it reads /opt/ml/input/config, downloads `sagemaker_submit_directory` (the SDK's
sourcedir.tar.gz, from S3_ENDPOINT_URL's S3 here) into /opt/ml/code, installs its requirements.txt, sets the SM_*
variables and runs `python <sagemaker_program> --hp value ...`. The toolkit's `train` command calls main() and
writes /opt/ml/output/failure on an error.
"""

from __future__ import annotations

import os


def main() -> None:
    from sagemaker_training import entry_point, environment

    env = environment.Environment()
    if not env.user_entry_point:
        if os.environ.get("HARNESS_STANDIN_FRAMEWORK") == "xgboost":  # no script: the built-in algorithm
            from harness_standin import xgboost_algorithm

            xgboost_algorithm.main()
        raise ValueError(
            "no training script: set the estimator's entry_point (hyperparameter sagemaker_program); "
            "the scikit-learn image has no built-in algorithm"
        )
    entry_point.run(
        uri=env.module_dir,
        user_entry_point=env.user_entry_point,
        args=env.to_cmd_args(),
        env_vars=env.to_env_vars(),
    )
