"""Every check's stable name and the SageMaker rule behind it."""

from __future__ import annotations

from harness.check.model import Kind, Rule

INFER, TRAIN, PROC, PAIRED = Kind.INFERENCE, Kind.TRAINING, Kind.PROCESSING, Kind.PAIR

SERVE_ARGUMENT = Rule(
    "inference.serve-argument",
    INFER,
    "SageMaker starts inference containers as `docker run IMAGE serve`; the container must keep running",
)
PORT_8080 = Rule("inference.port-8080", INFER, "the server listens on port 8080 unless SAGEMAKER_BIND_TO_PORT applies")
BIND_TO_PORT = Rule(
    "inference.bind-to-port",
    INFER,
    "with the label com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true the server "
    "listens on SAGEMAKER_BIND_TO_PORT (without the label SageMaker never sets it)",
)
FAST_ACCEPT = Rule(
    "inference.accept-250ms", INFER, "once listening, the container accepts socket connections within 250 ms"
)
PING_2S = Rule("inference.ping-2s", INFER, "each GET /ping must answer within 2 s")
HEALTHY_IN_WINDOW = Rule(
    "inference.healthy-in-window",
    INFER,
    "GET /ping must answer 200 within the start-up window (4 minutes by default, 60-3600 s)",
)
INVOKE_60S = Rule("inference.invocations-60s", INFER, "POST /invocations must answer a valid request within 60 s")
NEAR_6MB = Rule(
    "inference.payload-6mb", INFER, "real-time requests may carry up to 6 MB; a payload near it must be served"
)
SURVIVES_BAD_INPUT = Rule(
    "inference.survives-bad-payloads",
    INFER,
    "malformed requests must get an answer (not a crash) and leave /ping healthy",
)
SIGTERM_30S = Rule("inference.sigterm-30s", INFER, "on SIGTERM the container must exit within 30 s (then SIGKILL)")
MODEL_MOUNT = Rule(
    "inference.model-from-opt-ml-model",
    INFER,
    "SageMaker extracts model.tar.gz into /opt/ml/model before `serve`; the server must load it there",
)

TRAIN_ARGUMENT = Rule(
    "training.train-argument", TRAIN, "SageMaker starts training containers as `docker run IMAGE train`"
)
TRAIN_COMPLETES = Rule("training.exit-code", TRAIN, "a training job succeeds only when the container exits 0")
STRING_HYPERPARAMETERS = Rule(
    "training.hyperparameters-as-strings", TRAIN, "/opt/ml/input/config/hyperparameters.json holds string values only"
)
WRITES_MODEL = Rule(
    "training.writes-model",
    TRAIN,
    "everything in /opt/ml/model becomes model.tar.gz; a model written elsewhere is lost",
)
READS_CHANNELS = Rule(
    "training.reads-channels",
    TRAIN,
    "channel data appears at /opt/ml/input/data/<channel>: broken data there must fail the job",
)
FAILURE_FILE = Rule(
    "training.failure-file",
    TRAIN,
    "on error the container writes /opt/ml/output/failure (its first 1024 characters become "
    "FailureReason) and exits non-zero",
)
NO_NETWORK = Rule(
    "training.no-network", TRAIN, "with network isolation the container has no network: it must need none"
)

EXEC_FORM = Rule(
    "processing.exec-form-entrypoint",
    PROC,
    "ContainerEntrypoint is run in exec form; a shell-form ENTRYPOINT breaks signals and arguments",
)
PROCESSING_EXIT = Rule("processing.exit-code", PROC, "a processing job succeeds only when the container exits 0")
PROCESSING_PATHS = Rule(
    "processing.io-under-opt-ml-processing",
    PROC,
    "inputs arrive and outputs are collected only under /opt/ml/processing/; files written elsewhere are lost",
)
PROCESSING_FAILURE = Rule(
    "processing.failure-exit-code", PROC, "a job whose inputs are unusable must fail with a non-zero exit code"
)

PARITY = Rule(
    "pair.library-parity",
    PAIRED,
    "a pickled model loads only under the library versions it was trained with: the training and "
    "inference images must carry the same versions",
)
ROUND_TRIP = Rule(
    "pair.round-trip", PAIRED, "a model produced by the training image loads and serves in the inference image"
)

ALL = (
    SERVE_ARGUMENT,
    PORT_8080,
    BIND_TO_PORT,
    FAST_ACCEPT,
    PING_2S,
    HEALTHY_IN_WINDOW,
    INVOKE_60S,
    NEAR_6MB,
    SURVIVES_BAD_INPUT,
    SIGTERM_30S,
    MODEL_MOUNT,
    TRAIN_ARGUMENT,
    TRAIN_COMPLETES,
    STRING_HYPERPARAMETERS,
    WRITES_MODEL,
    READS_CHANNELS,
    FAILURE_FILE,
    NO_NETWORK,
    EXEC_FORM,
    PROCESSING_EXIT,
    PROCESSING_PATHS,
    PROCESSING_FAILURE,
    PARITY,
    ROUND_TRIP,
)
