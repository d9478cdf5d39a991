"""Train in the training image, serve in the inference image: same predictions."""

from pathlib import Path

import pandas as pd
from support import extracted_model, start_server

from harness.engine.docker import Scope
from harness.project.images import ImageKind


def test_served_predictions_equal_the_training_process_predictions(
    trained: Path, tmp_path: Path, fixtures_dir: Path, scope: Scope, images: dict
) -> None:
    # the training job scored its validation channel and kept the predictions
    from_training = (trained / "output" / "data" / "validation_predictions.csv").read_text().split()
    validation = pd.read_csv(fixtures_dir / "data" / "validation" / "validation_data.csv", header=None)
    features_csv = validation.iloc[:, 1:].to_csv(header=False, index=False).encode()

    client, _ = start_server(scope, images[ImageKind.INFERENCE], extracted_model(trained, tmp_path))
    reply = client.invoke(features_csv, "text/csv", accept="text/csv")

    assert reply.status == 200
    assert reply.text().split() == from_training
    assert len(from_training) == len(validation) == 84
