from __future__ import annotations

import pytest

from river_agent.graphs.referent_count import asks_for_one


@pytest.mark.parametrize(
    "query",
    [
        "Paint the car that stops red.",
        "whatever overtakes the truck should not be there",
        "Shrink the quicker of the two.",
        "Scale the fastest of the things in motion down.",
        "Get rid of the fastest of the ones that leave.",
        "Make the nearest of them blue.",
        "Remove the biggest of all the balls.",
        "Cover the thing that carries the same surface pattern as the one on two legs with dots.",
    ],
)
def test_one_object_requests(query):
    assert asks_for_one(query)


@pytest.mark.parametrize(
    "query",
    [
        "Remove all the balls.",
        "Every pink thing should be bigger.",
        "Paint each dog that stops green.",
        "Get rid of them.",
        "Make both trucks smaller.",
        "Those cars that pass the tree should be red.",
        "Paint all of the dogs blue.",
    ],
)
def test_several_object_requests(query):
    assert not asks_for_one(query)
