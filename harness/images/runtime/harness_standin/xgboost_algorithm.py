"""The built-in XGBoost algorithm (algorithm mode: an estimator with hyperparameters and no entry point).

Written from AWS's documentation of the algorithm (hyperparameters, input formats, metrics) and matched to what
AWS's container (aws/sagemaker-xgboost-container) checks and prints: the hyperparameters are validated before
anything else, with its messages; `train` (required) and `validation` channels in text/csv (label first, no
header) or text/libsvm, the train channel's ContentType (default text/libsvm) deciding both; a line per round
`[n]<TAB>train-<metric>:<v>...`, which CloudWatch Logs shows with the tab as `#011`; early stopping on the last
`eval_metric` when there is a validation channel; the model saved as `/opt/ml/model/xgboost-model` with
`save_model` (xgboost 1.7: its binary format; 3.0: UBJSON). A failure writes `/opt/ml/output/failure` as
`framework error: ...` and exits 1.
"""

from __future__ import annotations

import ast
import csv
import json
import logging
import math
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONFIG = Path(os.environ.get("SM_INPUT", "/opt/ml/input")) / "config"
MODEL_DIR = Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
FAILURE = Path("/opt/ml/output/failure")
MODEL_NAME = "xgboost-model"
ALIASES = {"learning_rate": "eta", "min_split_loss": "gamma", "reg_lambda": "lambda", "reg_alpha": "alpha"}
OBJECTIVES = [
    "aft_loss_distribution", "binary:logistic", "binary:logitraw", "binary:hinge", "count:poisson", "multi:softmax",
    "multi:softprob", "rank:pairwise", "rank:ndcg", "rank:map", "reg:linear", "reg:squarederror", "reg:logistic",
    "reg:gamma", "reg:pseudohubererror", "reg:squaredlogerror", "reg:absoluteerror", "reg:tweedie", "survival:aft",
    "survival:cox",
]  # fmt: skip
MAXIMIZE = [
    "accuracy", "auc", "aucpr", "balanced_accuracy", "f1", "f1_binary", "f1_macro", "map", "ndcg", "precision", "r2",
    "recall", "precision_macro", "precision_micro", "recall_macro", "recall_micro",
]  # fmt: skip
MINIMIZE = ["aft-nloglik", "cox-nloglik", "error", "gamma-deviance", "gamma-nloglik", "interval-regression-accuracy",
            "logloss", "mae", "mape", "merror", "mlogloss", "mphe", "mse", "poisson-nloglik", "rmse", "rmsle",
            "tweedie-nloglik"]  # fmt: skip
CONTENT_TYPES = {"csv": "csv", "text/csv": "csv", "libsvm": "libsvm", "text/libsvm": "libsvm",
                 "text/x-libsvm": "libsvm"}  # fmt: skip
ACCEPTED = ["csv", "libsvm", "parquet", "recordio-protobuf", "text/csv", "text/libsvm", "text/x-libsvm",
            "application/x-parquet", "application/x-recordio-protobuf"]  # fmt: skip

log = logging.getLogger("harness_standin.xgboost")


class UserError(Exception):
    """The customer's mistake, as AWS's algorithm toolkit names it (sagemaker_algorithm_toolkit.exceptions)."""


@dataclass(frozen=True)
class Interval:
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def __str__(self) -> str:
        def bound(x: float) -> str:
            return "+inf" if x == math.inf else "-inf" if x == -math.inf else f"{x:g}"

        return f"{'(' if self.low_open else '['}{bound(self.low)}, {bound(self.high)}{')' if self.high_open else ']'}"


def _interval(text: str) -> Interval:
    """'[0, 1]', '(0, +inf)' -> Interval."""
    low, high = (part.strip() for part in text[1:-1].split(","))
    value = {"+inf": math.inf, "-inf": -math.inf}
    return Interval(value.get(low, 0.0) if low in value else float(low), value[high] if high in value else float(high),
                    text[0] == "(", text[-1] == ")")  # fmt: skip


# name -> (kind, range or values). Integer/continuous: an interval; categorical/list: the values allowed.
_POSITIVE, _UNIT = "[0, +inf)", "[0, 1]"
SPEC: dict[str, tuple[str, Any]] = {
    "num_round": ("int", "[1, +inf)"), "csv_weights": ("int", "[0, 1]"), "early_stopping_rounds": ("int", "[1, +inf)"),
    "booster": ("cat", ["gbtree", "gblinear", "dart"]), "verbosity": ("int", "[0, 3]"),
    "nthread": ("int", "[1, +inf)"), "eta": ("float", _UNIT), "gamma": ("float", _POSITIVE),
    "max_depth": ("int", _POSITIVE), "min_child_weight": ("float", _POSITIVE), "max_delta_step": ("float", _POSITIVE),
    "subsample": ("float", "(0, 1]"), "colsample_bytree": ("float", "(0, 1]"), "colsample_bylevel": ("float", "(0, 1]"),
    "colsample_bynode": ("float", "(0, 1]"), "lambda": ("float", _POSITIVE), "alpha": ("float", _POSITIVE),
    "tree_method": ("cat", ["auto", "exact", "approx", "hist", "gpu_hist"]), "sketch_eps": ("float", "(0, 1)"),
    "scale_pos_weight": ("float", "(0, +inf)"),
    "updater": ("list", ["grow_colmaker", "distcol", "grow_histmaker", "grow_skmaker", "sync", "refresh", "prune",
                         "shotgun", "coord_descent"]),
    "dsplit": ("cat", ["row", "col"]), "refresh_leaf": ("int", "[0, 1]"),
    "process_type": ("cat", ["default", "update"]),
    "grow_policy": ("cat", ["depthwise", "lossguide"]), "max_leaves": ("int", _POSITIVE), "max_bin": ("int", _POSITIVE),
    "predictor": ("cat", ["auto", "cpu_predictor", "gpu_predictor"]), "monotone_constraints": ("tuple", [-1, 0, 1]),
    "interaction_constraints": ("nested", None), "sample_type": ("cat", ["uniform", "weighted"]),
    "normalize_type": ("cat", ["tree", "forest"]), "rate_drop": ("float", _UNIT), "one_drop": ("int", "[0, 1]"),
    "skip_drop": ("float", _UNIT), "lambda_bias": ("float", _UNIT), "tweedie_variance_power": ("float", "(1, 2)"),
    "objective": ("cat", OBJECTIVES), "num_class": ("int", "[2, +inf)"), "base_score": ("float", _POSITIVE),
    "_kfold": ("int", "[2, +inf)"), "_num_cv_round": ("int", "[1, +inf)"),
    "_tuning_objective_metric": ("cat", [f"validation:{m}" for m in MAXIMIZE + MINIMIZE]),
    "eval_metric": ("list", MAXIMIZE + MINIMIZE), "seed": ("int", "(-2147483648, 2147483647)"),
    "num_parallel_tree": ("int", "[1, +inf)"), "save_model_on_termination": ("cat", ["true", "false"]),
    "aft_loss_distribution": ("cat", ["normal", "logistic", "extreme"]),
    "aft_loss_distribution_scale": ("float", _POSITIVE), "deterministic_histogram": ("cat", ["true", "false"]),
    "sampling_method": ("cat", ["uniform", "gradient_based"]), "prob_buffer_row": ("float", "(1, +inf)"),
    "use_dask_gpu_training": ("cat", ["true", "false"]),
}  # fmt: skip
# The container's own: not passed to xgboost.
_NOT_FOR_XGBOOST = {"num_round", "csv_weights", "early_stopping_rounds", "_kfold", "_num_cv_round",
                    "_tuning_objective_metric", "save_model_on_termination", "use_dask_gpu_training"}  # fmt: skip


def validate(raw: dict[str, str]) -> dict[str, Any]:
    """The hyperparameters as AWS's container checks them: aliases, the one required, unknown keys, parsing,
    ranges, then the rules between them; the first error wins."""
    values = {ALIASES.get(name, name): value for name, value in raw.items()}
    if "num_round" not in values:
        raise UserError("Missing required hyperparameter: num_round")
    for name in values:
        if name not in SPEC:
            raise UserError(f"Extraneous hyperparameter found: {name}")
    parsed = {name: _parse(name, str(value)) for name, value in values.items()}
    for name, value in parsed.items():
        _check(name, value)
    _check_dependencies(parsed)
    return parsed


def _parse(name: str, text: str) -> Any:
    kind = SPEC[name][0]
    try:
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
        if kind == "list":
            return text.split(",")
        if kind == "tuple":
            return tuple(eval(text, {"__builtins__": {}}))
        if kind == "nested":
            return ast.literal_eval(text)
        return text
    except Exception as error:  # noqa: BLE001 (whatever the parser raised: AWS's message names its type)
        raise UserError(f"Hyperparameter {name}: could not parse value (caused by {type(error).__name__})") from None


def _check(name: str, value: Any) -> None:
    kind, allowed = SPEC[name]
    if kind in ("int", "float"):
        interval = _interval(allowed)
        if value not in interval:
            raise UserError(f"Hyperparameter {name}: {value} is not in {interval}")
    elif kind == "cat" and value not in allowed:
        raise UserError(f"Hyperparameter {name}: {value} is not in {allowed}")
    elif kind in ("list", "tuple") and not all(item in allowed for item in value):
        if name == "eval_metric" and all(_threshold_metric(item) for item in value):
            return
        raise UserError(f"Hyperparameter {name}: value {list(value) if kind == 'list' else value} not in range "
                        f"{allowed}")  # fmt: skip


def _threshold_metric(metric: str) -> bool:
    """error@t, ndcg@n, map@n; the rest of `name@x` is refused with AWS's message."""
    if "@" not in metric:
        return metric in MAXIMIZE + MINIMIZE
    base, _, threshold = metric.partition("@")
    if base not in ("error", "ndcg", "map"):
        raise UserError(f"Metric '{metric}' is not supported. Parameter 'eval_metric' with customized threshold "
                        "should be one of these options: 'error', 'ndcg', 'map'.")  # fmt: skip
    try:
        float(threshold.rstrip("-"))
    except ValueError:
        raise UserError(f"Threshold value '{threshold}' in '{metric}' expects float input.") from None
    return True


def _check_dependencies(values: dict[str, Any]) -> None:
    objective = values.get("objective")
    if objective in ("multi:softmax", "multi:softprob") and "num_class" not in values:
        raise UserError("Require input for parameter 'num_class' for multi-classification")
    for metric in values.get("eval_metric", []):
        if metric.startswith("auc") and objective is not None and not objective.startswith(("binary:", "rank:")):
            raise UserError(f"Metric '{metric}' can only be applied for classification and ranking problems.")
        if metric == "aft-nloglik" and objective != "survival:aft":
            raise UserError("Metric 'aft-nloglik' can only be applied for 'survival:aft' objective.")
    tree_method = values.get("tree_method")
    if "monotone_constraints" in values and tree_method not in (None, "exact", "hist"):
        raise UserError("monotone_constraints can be used only when the tree_method parameter is set to either "
                        "'exact' or 'hist'.")  # fmt: skip


def channels() -> dict[str, dict[str, Any]]:
    """inputdataconfig.json, checked as the container checks it; ContentType defaults to text/libsvm."""
    config = json.loads((CONFIG / "inputdataconfig.json").read_text())
    for name in config:
        if name not in ("train", "validation", "code"):
            raise UserError(f"Extraneous channel found: {name}")
    if "train" not in config:
        raise UserError("Missing required channel: train")
    for name, channel in config.items():
        channel.setdefault("ContentType", "text/libsvm")
        if name != "code" and (
            channel["ContentType"] not in ACCEPTED or channel.get("TrainingInputMode", "File") != "File"
        ):
            shown = {k: channel.get(k) for k in ("ContentType", "TrainingInputMode", "S3DistributionType")}
            raise UserError(f"Channel configuration for '{name}' channel is not supported: {shown}")
    return dict(config)


def _files(folder: Path) -> list[Path]:
    found = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and len(path.relative_to(folder).parts) <= 3:
            if path.name.startswith("."):
                raise UserError("Hidden file found in the data path! Remove that before training.")
            found.append(path)
    return found


def load(folder: Path, content_type: str, csv_weights: int, channel: str) -> Any:
    import numpy as np
    import xgboost as xgb

    files = _files(folder)
    if not files:
        raise UserError(f"No data in {channel} channel path {folder}")
    kind = CONTENT_TYPES.get(content_type.split(";")[0].strip())
    if kind is None:
        raise UserError(f"Content type {content_type} is not supported by the local stand-in "
                        "(csv and libsvm are; parquet and recordio-protobuf are not yet)")  # fmt: skip
    if kind == "libsvm":
        for path in files:
            first = path.read_text(errors="replace").split("\n", 1)[0]
            if first.strip() and not _libsvm_line(first):
                raise UserError(f"First line '{first[:50]}' of file '{path.name}' is not 'LIBSVM' format. "
                                "Please ensure the file is in 'LIBSVM' format.")  # fmt: skip
        try:
            return xgb.DMatrix(f"{folder}?format=libsvm" if len(files) > 1 else f"{files[0]}?format=libsvm")
        except Exception as error:  # noqa: BLE001 (xgboost's parser: AWS's message carries it)
            raise UserError(f"Failed to load libsvm data with exception:\n{error}") from None
    rows = []
    for path in files:
        text = path.read_text()
        first = text.split("\n", 1)[0]
        try:
            delimiter = csv.Sniffer().sniff(first).delimiter
        except csv.Error as error:
            raise UserError(f"Could not determine delimiter on line {first[:50]}:\n{error}") from None
        delimiter = "," if delimiter.isalnum() else delimiter
        if first and not all(_number(cell) for cell in first.split(delimiter)):
            # AWS's container has no such check: a header row is read as a data row (its label 0).
            log.warning("harness stand-in: the first line of %s is not numeric (%s...); AWS's algorithm reads it "
                        "as a data row with label 0, as here. text/csv training data has no header.",
                        path.name, first[:50])  # fmt: skip
        for line in text.splitlines():
            if line.strip():
                label, *features = line.split(delimiter)
                # As xgboost's CSV parser: a label that is not a number reads as 0, a feature as missing.
                rows.append([_float(label, 0.0), *(_float(cell, math.nan) for cell in features)])
    data = np.array(rows, dtype=np.float32)
    first_feature = 2 if csv_weights == 1 else 1
    return xgb.DMatrix(data[:, first_feature:], label=data[:, 0], weight=data[:, 1] if csv_weights == 1 else None)


def _libsvm_line(line: str) -> bool:
    """`<label>[:<weight>] <index>:<value> ...`"""
    label, *pairs = line.split()
    if not all(_number(part) and part for part in label.split(":", 1)):
        return False
    for pair in pairs:
        index, sep, value = pair.partition(":")
        if not (sep and index.isdigit() and value and _number(value)):
            return False
    return True


def _number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return text.strip() == ""


def _float(text: str, otherwise: float) -> float:
    try:
        return float(text)
    except ValueError:
        return otherwise


def train() -> None:
    import xgboost as xgb

    raw = json.loads((CONFIG / "hyperparameters.json").read_text())
    params = validate(raw)  # before anything else: a bad value fails at once
    config = channels()
    content_type = config["train"]["ContentType"]  # the train channel's type is used for both channels
    csv_weights = int(params.get("csv_weights", 0))
    dtrain = load(Path(os.environ.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train")), content_type, csv_weights,
                  "training")  # fmt: skip
    log.info("Train matrix has %d rows and %d columns", dtrain.num_row(), dtrain.num_col())
    evals = [(dtrain, "train")]
    if "validation" in config:
        folder = Path(os.environ.get("SM_CHANNEL_VALIDATION", "/opt/ml/input/data/validation"))
        dvalidation = load(folder, content_type, csv_weights, "validation")
        log.info("Validation matrix has %d rows", dvalidation.num_row())
        evals.append((dvalidation, "validation"))
    booster_params = {name: _xgb_value(value) for name, value in params.items() if name not in _NOT_FOR_XGBOOST}
    callbacks = [xgb.callback.EvaluationMonitor()]
    metric = _early_stopping_metric(params)
    if "early_stopping_rounds" in params and len(evals) > 1 and metric:
        stop = xgb.callback.EarlyStopping(rounds=params["early_stopping_rounds"], data_name="validation",
                                          metric_name=metric, maximize=metric in MAXIMIZE, save_best=True)  # fmt: skip
        callbacks.append(stop)
    try:
        booster = xgb.train(booster_params, dtrain, num_boost_round=params["num_round"], evals=evals,
                            callbacks=callbacks, verbose_eval=False)  # fmt: skip
    except xgb.core.XGBoostError as error:
        raise UserError(str(error)) from None
    MODEL_DIR.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(MODEL_DIR / MODEL_NAME))


def _early_stopping_metric(params: dict[str, Any]) -> str:
    if "_tuning_objective_metric" in params:
        return str(params["_tuning_objective_metric"]).split(":", 1)[1]
    metrics = params.get("eval_metric") or []
    return str(metrics[-1]) if metrics else ""


def _xgb_value(value: Any) -> Any:
    if isinstance(value, list):
        return value if len(value) > 1 else value[0]
    return value


def main() -> None:
    logging.basicConfig(format="[%(asctime)s:%(levelname)s] %(message)s", datefmt="%Y-%m-%d:%H:%M:%S",
                        level=logging.INFO, stream=sys.stdout)  # fmt: skip
    log.info("Running XGBoost Sagemaker in algorithm mode")
    try:
        train()
    except Exception as error:  # noqa: BLE001 (every failure: the failure file and exit 1, as AWS's container)
        message = f"framework error: \n{traceback.format_exc()}\n{error}"
        FAILURE.parent.mkdir(parents=True, exist_ok=True)
        FAILURE.write_text(message)
        log.error("Reporting training FAILURE")
        log.error(message)
        sys.stdout.flush()
        os._exit(1)
    sys.stdout.flush()
    os._exit(0)  # as AWS's container: no success file in algorithm mode
