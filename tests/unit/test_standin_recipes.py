"""Recognising AWS's framework image URIs (from the SDK's own image_uri_config) and choosing their stand-ins."""

from __future__ import annotations

import pytest

from harness.errors import UserError
from harness.images.aws import parse_aws_image, sdk_versions
from harness.images.recipes import RECIPES, recipe_for


@pytest.mark.parametrize(
    ("framework", "version", "region"),
    [("sklearn", "1.2-1", "us-east-1"), ("sklearn", "1.4-2", "eu-west-1"), ("xgboost", "1.7-1", "ap-southeast-2")],
)
def test_every_uri_the_sdk_retrieves_is_recognised(framework: str, version: str, region: str) -> None:
    from sagemaker import image_uris

    uri = image_uris.retrieve(framework, region, version)
    image = parse_aws_image(uri)
    assert image is not None
    assert (image.framework, image.version, image.region, image.uri) == (framework, version, region, uri)


@pytest.mark.parametrize(
    "uri",
    [
        "111122223333.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",  # a team's own account
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/team/trainer:1.0",  # AWS's account, not a framework repository
        "sagemaker-scikit-learn:1.2-1-cpu-py3",
        "python:3.11-slim",
    ],
)
def test_other_images_are_not_aws_framework_images(uri: str) -> None:
    assert parse_aws_image(uri) is None


def test_the_oldest_asked_for_and_newest_sklearn_versions_have_stand_ins() -> None:
    assert ("sklearn", "1.2-1") in RECIPES
    assert ("sklearn", sdk_versions("sklearn")[-1]) in RECIPES
    for recipe in RECIPES.values():
        assert recipe.lock.is_file()
        assert any(d.item == "python" for d in recipe.differences)  # never silent about the interpreter


def test_a_version_the_sdk_does_not_offer_names_the_ones_it_does() -> None:
    image = parse_aws_image("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:9.9-1-cpu-py3")
    assert image is not None
    with pytest.raises(UserError) as caught:
        recipe_for(image)
    assert "version 9.9-1, which the SageMaker SDK does not offer" in caught.value.problem
    assert "1.2-1" in caught.value.fix and "1.4-2" in caught.value.fix


def test_an_offered_version_without_a_stand_in_says_how_to_get_aws_image() -> None:
    image = parse_aws_image("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:0.23-1-cpu-py3")
    assert image is not None
    with pytest.raises(UserError) as caught:
        recipe_for(image)
    assert "has no local stand-in" in caught.value.problem
    assert "docker pull" in caught.value.fix
