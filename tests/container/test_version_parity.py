"""One lock for every image: the libraries a model depends on cannot drift."""

import json

from harness.engine.docker import ContainerSpec, Scope
from harness.project.images import ImageKind, library_versions

PROBE = (
    "import json, sklearn, pandas, joblib, numpy, scipy; "
    "print(json.dumps({m.__name__: m.__version__ for m in (sklearn, pandas, joblib, numpy, scipy)}))"
)


def test_imported_versions_are_identical_in_every_image(scope: Scope, images: dict) -> None:
    seen = {}
    for kind, tag in images.items():
        spec = ContainerSpec(image=tag, entrypoint=("python", "-c", PROBE), network_disabled=True)
        code, output = scope.run_to_exit(spec, timeout_s=120)
        assert code == 0, output
        seen[kind] = json.loads(output.strip().splitlines()[-1])
    assert seen[ImageKind.TRAINING] == seen[ImageKind.INFERENCE] == seen[ImageKind.PROCESSING]
    assert set(seen[ImageKind.TRAINING]) == {"sklearn", "pandas", "joblib", "numpy", "scipy"}


def test_installed_versions_match_the_lock(scope: Scope, images: dict, settings) -> None:
    pinned = dict(
        line.split("==") for line in settings.lock_file.read_text().splitlines() if line and not line.startswith("#")
    )
    installed = library_versions(scope, images[ImageKind.INFERENCE], pinned)
    assert installed == pinned
