"""The evaluation-only dev-ad kNN of the occupation evaluation: it must never see its own label."""

from __future__ import annotations

import numpy as np
import pytest

from matching.evaluation import dev_ad_votes

pytestmark = pytest.mark.unit


def test_dev_ads_vote_for_their_gold_but_never_for_themselves():
    titles = ["Store Keeper", "Store Keeper", "Senior Accountant", "Storekeeper", "Accountant"]
    is_dev = [True, True, True, False, False]
    votes = dev_ad_votes(titles, is_dev, dev_gold=[7, 8, 3], n_occupations=10, k=1)
    # dev ad 0's nearest other dev ad is dev ad 1 (same title): it gets 1's label, not its own
    assert votes[0].argmax() == 8 and votes[0, 7] == 0
    assert votes[1].argmax() == 7 and votes[1, 8] == 0
    # held-out ads only receive labels of dev ads
    assert votes[3].argmax() in (7, 8) and votes[4].argmax() == 3
    assert np.all(votes >= 0) and votes[:, [0, 1, 2, 4, 5, 6, 9]].sum() == 0


def test_no_dev_ads_means_no_votes():
    assert not dev_ad_votes(["a", "b"], [False, False], [], 4).any()
