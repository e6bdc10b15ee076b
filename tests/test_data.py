"""Tests of the synthetic data generators."""

from __future__ import annotations

import pytest
import torch

from losscookbook.data import class_counts, make_classification, make_hierarchical_classification, train_test_split


def test_class_counts_are_proportional_and_complete():
    assert class_counts(10, [1, 1]) == [5, 5]
    assert class_counts(1001, [1000, 1]) == [1000, 1]
    assert class_counts(100, [100, 0.01]) == [99, 1]  # every class gets at least one sample
    counts = class_counts(997, [3, 2, 5])
    assert counts == [299, 199, 499]  # floors 299, 199, 498; the largest remainder (0.5) gets the last one


def test_make_classification_balance_determinism_and_separation():
    X, y = make_classification(2000, num_classes=3, num_features=5, class_weights=[10, 5, 1], seed=3)
    assert X.shape == (2000, 5) and X.dtype == torch.float32 and y.dtype == torch.int64
    assert torch.bincount(y).tolist() == class_counts(2000, [10, 5, 1])
    X2, y2 = make_classification(2000, num_classes=3, num_features=5, class_weights=[10, 5, 1], seed=3)
    assert torch.equal(X, X2) and torch.equal(y, y2)
    # the nearest class centre recovers the label far better than chance when classes are well separated
    X, y = make_classification(3000, num_classes=4, num_features=8, class_sep=4.0, seed=0)
    centres = torch.stack([X[y == k].mean(0) for k in range(4)])
    assert (torch.cdist(X, centres).argmin(1) == y).float().mean() > 0.95


def test_label_noise_flips_the_requested_fraction_to_other_classes():
    X, clean = make_classification(20000, num_classes=5, seed=1)
    X2, noisy = make_classification(20000, num_classes=5, label_noise=0.3, seed=1)
    assert torch.equal(X, X2)
    assert abs((clean != noisy).float().mean().item() - 0.3) < 0.015


def test_hierarchical_classes_are_confused_within_their_group():
    X, y, group = make_hierarchical_classification(6000, num_groups=3, classes_per_group=4, seed=0)
    assert group.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    centres = torch.stack([X[y == k].mean(0) for k in range(12)])
    pred = torch.cdist(X, centres).argmin(1)
    wrong = pred != y
    assert wrong.any()
    assert (group[pred[wrong]] == group[y[wrong]]).float().mean() > 0.8


def test_train_test_split_partitions():
    X, y = torch.arange(20.0).view(10, 2), torch.arange(10)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_fraction=0.3, seed=0)
    assert len(X_te) == 3 and len(X_tr) == 7
    assert sorted(torch.cat([y_tr, y_te]).tolist()) == list(range(10))
    assert torch.equal(X_tr[:, 0] // 2, y_tr.float())


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: make_classification(10, num_classes=1), ValueError, r"num_classes must be an integer in \[2, inf\], got 1"),
        (lambda: make_classification(10, class_weights=[1, 2, 3]), ValueError, r"class_weights must have num_classes=2 entries, got 3"),
        (lambda: make_classification(10, label_noise=1.5), ValueError, r"label_noise must be in \[0.0, 1.0\], got 1.5"),
        (lambda: class_counts(1, [1, 1]), ValueError, r"n_samples must be at least the number of classes 2, got 1"),
        (lambda: class_counts(10, [1, 0]), ValueError, r"class_weights\[i\] must be in \(0.0, inf\], got 0.0"),
        (lambda: train_test_split(torch.zeros(3), torch.zeros(4)), ValueError, r"tensors\[1\] must have 3 rows"),
        (lambda: train_test_split(torch.zeros(3), test_fraction=1.0), ValueError, r"test_fraction must be in \(0.0, 1.0\)"),
    ],
)
def test_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()


# --------------------------------------------------------------------------- multi-label data
from losscookbook.data import MultilabelData, make_multilabel  # noqa: E402


def test_make_multilabel_shapes_dtypes_prevalence_and_determinism():
    data = make_multilabel(3000, num_labels=5, num_features=7, prevalence=[0.5, 0.3, 0.2, 0.1, 0.02], seed=4)
    assert isinstance(data, MultilabelData)
    assert data.X.shape == (3000, 7) and data.X.dtype == torch.float32
    assert data.Y.shape == (3000, 5) and data.Y.dtype == torch.float32
    assert set(data.Y.unique().tolist()) == {0.0, 1.0}
    assert data.Y.sum(0).tolist() == [1500.0, 900.0, 600.0, 300.0, 60.0]
    assert torch.equal(data.prevalence, torch.tensor([0.5, 0.3, 0.2, 0.1, 0.02], dtype=torch.float64))
    again = make_multilabel(3000, num_labels=5, num_features=7, prevalence=[0.5, 0.3, 0.2, 0.1, 0.02], seed=4)
    assert torch.equal(data.X, again.X) and torch.equal(data.Y, again.Y)
    other = make_multilabel(3000, num_labels=5, num_features=7, prevalence=[0.5, 0.3, 0.2, 0.1, 0.02], seed=5)
    assert not torch.equal(data.Y, other.Y)


def test_make_multilabel_default_prevalence_falls_from_0_4_to_0_05():
    data = make_multilabel(2000, num_labels=6)
    assert data.prevalence[0] == pytest.approx(0.4) and data.prevalence[-1] == pytest.approx(0.05)
    assert (data.prevalence.diff() < 0).all()
    assert torch.allclose(data.Y.mean(0).double(), data.prevalence, atol=1 / 2000)
    assert make_multilabel(10, num_labels=1).Y.sum() == 4


def test_make_multilabel_labels_are_correlated_and_predictable():
    data = make_multilabel(20000, num_labels=8, rank=2, noise=0.5, seed=1)
    corr = torch.corrcoef(data.Y.T)
    off_diagonal = corr[~torch.eye(8, dtype=torch.bool)].abs()
    assert off_diagonal.max() > 0.2  # two hidden factors shared by eight labels
    # the labels depend on the inputs, less so with more label noise: the share of each label's
    # variance left by a least-squares fit on (x, tanh x) grows with the noise
    unexplained = []
    for noise in (0.0, 0.5, 3.0):
        d = make_multilabel(20000, num_labels=8, rank=2, noise=noise, seed=1)
        X = torch.cat([d.X, d.X.tanh(), torch.ones(20000, 1)], 1).double()
        fit = torch.linalg.lstsq(X, d.Y.double()).solution
        unexplained.append(float((((X @ fit - d.Y.double()) ** 2).mean(0) / d.Y.double().var(0)).mean()))
    assert unexplained[0] < 0.65 and unexplained[0] < unexplained[1] < unexplained[2]
    assert unexplained[2] > 0.9


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: make_multilabel(1), r"n_samples must be an integer in \[2, inf\], got 1"),
        (lambda: make_multilabel(10, num_labels=0), r"num_labels must be an integer in \[1, inf\], got 0"),
        (lambda: make_multilabel(10, num_labels=2, prevalence=[0.1]), r"prevalence must have num_labels=2 entries, got 1"),
        (lambda: make_multilabel(10, num_labels=2, prevalence=[0.1, 1.0]), r"prevalence\[1\] must be in \(0.0, 1.0\), got 1.0"),
        (lambda: make_multilabel(10, noise=-1.0), r"noise must be in \[0.0, inf\], got -1.0"),
        (lambda: make_multilabel(10, rank=0), r"rank must be an integer in \[1, inf\], got 0"),
    ],
)
def test_make_multilabel_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ------------------------------------------------------------------ recommendation data
from losscookbook.data import make_behavior_sequences, make_click_conversion  # noqa: E402


def test_click_conversion_selection_bias_and_known_rates():
    data = make_click_conversion(100_000, seed=2)
    assert data.X.shape == (100_000, 8) and data.item.dtype == torch.int64
    assert torch.equal(data.conversion, data.click * data.conversion_if_clicked)  # observed only after a click
    assert set(data.click.unique().tolist()) == {0.0, 1.0}
    # the labels follow the true rates
    assert float(data.click.mean()) == pytest.approx(float(data.ctr.mean()), abs=0.005)
    assert float(data.conversion_if_clicked.mean()) == pytest.approx(float(data.cvr.mean()), abs=0.006)
    # selection bias: the clicked impressions convert more often than the impressions at large
    clicked = data.click == 1
    assert float(data.cvr[clicked].mean()) > float(data.cvr.mean()) + 0.05
    # CTR and CVR share item effects (positively correlated logits) but are not the same
    r = float(torch.corrcoef(torch.stack([data.ctr.logit(), data.cvr.logit()]))[0, 1])
    assert 0.2 < r < 0.9
    again = make_click_conversion(100_000, seed=2)
    assert torch.equal(again.click, data.click) and torch.equal(again.X, data.X)


def test_click_conversion_clickbait_lowers_cvr_of_clicked_items():
    plain = make_click_conversion(50_000, clickbait=0.0, item_correlation=0.0, seed=0)
    bait = make_click_conversion(50_000, clickbait=2.0, item_correlation=0.0, seed=0)
    r_plain = float(torch.corrcoef(torch.stack([plain.ctr.logit(), plain.cvr.logit()]))[0, 1])
    r_bait = float(torch.corrcoef(torch.stack([bait.ctr.logit(), bait.cvr.logit()]))[0, 1])
    assert r_bait < r_plain - 0.3


def test_behavior_sequences_shapes_padding_and_negatives():
    seqs = make_behavior_sequences(300, num_items=50, dim=4, max_len=12, min_len=3, seed=0)
    assert seqs.items.shape == seqs.negatives.shape == seqs.mask.shape == (300, 12)
    assert int(seqs.lengths.min()) >= 3 and int(seqs.lengths.max()) <= 12
    assert torch.equal(seqs.mask, torch.arange(12)[None] < seqs.lengths[:, None])
    assert (seqs.items[~seqs.mask] == 0).all() and (seqs.negatives[~seqs.mask] == 0).all()
    assert (seqs.items[seqs.mask] >= 1).all() and (seqs.items[seqs.mask] <= 50).all()
    assert (seqs.negatives != seqs.items)[seqs.mask].all()
    assert seqs.item_embeddings.shape == (51, 4) and (seqs.item_embeddings[0] == 0).all()
    torch.testing.assert_close(seqs.item_embeddings[1:].norm(dim=1), torch.ones(50))
    assert seqs.interest.shape == (300, 13, 4)
    assert set(seqs.target_label.unique().tolist()) == {0.0, 1.0}


def test_behavior_sequences_clicks_follow_the_drifting_interest():
    seqs = make_behavior_sequences(2000, num_items=100, dim=8, max_len=10, min_len=10, drift=0.5, seed=1)
    e = seqs.item_embeddings[seqs.items]  # (N, T, D)
    aligned = (e * seqs.interest[:, :10]).sum(-1)  # the clicked item vs the interest of its own step
    stale = (e[:, 9] * seqs.interest[:, 0]).sum(-1)  # the last click vs the first interest
    random = (seqs.item_embeddings[seqs.negatives] * seqs.interest[:, :10]).sum(-1)
    assert float(aligned.mean()) > float(stale.mean()) + 0.1 > float(random.mean()) + 0.1
    # the positive candidates match the interest after the last click, the random ones do not
    cand = (seqs.item_embeddings[seqs.target_item] * seqs.interest[:, 10]).sum(-1)
    pos = seqs.target_label == 1
    assert float(cand[pos].mean()) > float(cand[~pos].mean()) + 0.2


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: make_click_conversion(0), ValueError, r"n_impressions must be an integer in \[1, inf\], got 0"),
        (lambda: make_click_conversion(10, item_correlation=1.5), ValueError, r"item_correlation must be in \[-1.0, 1.0\], got 1.5"),
        (lambda: make_click_conversion(10, clickbait=-1.0), ValueError, r"clickbait must be in \[0.0, inf\]"),
        (lambda: make_behavior_sequences(5, min_len=8, max_len=6), ValueError, r"min_len must be an integer in \[1, 6\], got 8"),
        (lambda: make_behavior_sequences(5, num_items=1), ValueError, r"num_items must be an integer in \[2, inf\]"),
        (lambda: make_behavior_sequences(5, drift=-0.1), ValueError, r"drift must be in \[0.0, inf\]"),
    ],
)
def test_recommendation_generators_reject_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()


# --------------------------------------------------------------------------- multi-task regression
from losscookbook.data import make_gradnorm_regression, make_uncertainty_regression  # noqa: E402


def test_uncertainty_regression_follows_its_formula_with_the_stated_noise():
    data = make_uncertainty_regression(20000, seed=1)
    assert data.X.shape == (20000, 1) and data.Y.shape == (20000, 2) and data.Y.dtype == torch.float32
    assert data.noise_std.tolist() == [10.0, 1.0] and data.scales.tolist() == [1.0, 1.0]
    x = data.X[:, 0].double()
    # the clean targets are the two lines, written out here from the formula
    assert torch.allclose(data.clean.double(), torch.stack([2 * x + 8, 3 * x + 3], 1), atol=1e-5)
    residual = (data.Y - data.clean).double()
    assert torch.allclose(residual.std(0), torch.tensor([10.0, 1.0], dtype=torch.float64), rtol=0.03)
    assert residual.mean(0).abs().max() < 0.2
    assert abs(float(torch.corrcoef(residual.T)[0, 1])) < 0.05          # independent noise per task
    # least squares on each task recovers slope and intercept
    A = torch.stack([x, torch.ones_like(x)], 1)
    coef = torch.linalg.lstsq(A, data.Y.double()).solution
    assert torch.allclose(coef, torch.tensor([[2.0, 3.0], [8.0, 3.0]], dtype=torch.float64), atol=0.2)
    again = make_uncertainty_regression(20000, seed=1)
    assert torch.equal(data.Y, again.Y) and not torch.equal(data.Y, make_uncertainty_regression(20000, seed=2).Y)


def test_uncertainty_regression_takes_any_number_of_tasks():
    data = make_uncertainty_regression(50, noise_std=(1.0, 2.0, 0.0), slopes=(1, 1, 1), intercepts=(0, 0, 5))
    assert data.Y.shape == (50, 3)
    assert torch.equal(data.Y[:, 2], data.clean[:, 2]) and torch.allclose(data.clean[:, 2], data.X[:, 0] + 5)


def test_gradnorm_regression_matches_the_formula_written_as_loops():
    data = make_gradnorm_regression(30, scales=(1.0, 10.0, 100.0), num_features=6, num_outputs=4, seed=3)
    assert data.X.shape == (30, 6) and data.Y.shape == (30, 3, 4) and torch.equal(data.Y, data.clean)
    assert torch.allclose(data.X.norm(dim=1), torch.ones(30), atol=1e-6)
    assert data.scales.tolist() == [1.0, 10.0, 100.0] and data.noise_std.tolist() == [0.0, 0.0, 0.0]
    # redraw B and eps in the generator's order and evaluate f_t(x) = sigma_t tanh((B + eps_t) x) with loops
    g = torch.Generator().manual_seed(3)
    B = 10.0 * torch.randn(4, 6, generator=g, dtype=torch.float64)
    eps = 3.5 * torch.randn(3, 4, 6, generator=g, dtype=torch.float64)
    X = data.X.double()
    for n in range(0, 30, 7):
        for t, sigma in enumerate((1.0, 10.0, 100.0)):
            for o in range(4):
                z = sum((B[o, f] + eps[t, o, f]) * X[n, f] for f in range(6))
                assert abs(sigma * float(torch.tanh(z)) - float(data.Y[n, t, o])) < 1e-4 * sigma


def test_gradnorm_tasks_differ_in_scale_but_share_structure():
    data = make_gradnorm_regression(4000, num_features=20, num_outputs=8, seed=0)
    unit = data.Y / data.scales[None, :, None]
    # the same difficulty: the unit-scale targets have comparable spread ...
    spread = unit.std(dim=(0, 2))
    assert 0.7 < float(spread[0] / spread[1]) < 1.4
    # ... the losses of a zero predictor differ by sigma^2 = 10^4 ...
    zero_loss = (data.Y**2).mean(dim=(0, 2))
    assert 0.5e4 < float(zero_loss[1] / zero_loss[0]) < 2e4
    # ... and the tasks are related through the shared B: their unit-scale outputs correlate
    assert float(torch.corrcoef(torch.stack([unit[:, 0].flatten(), unit[:, 1].flatten()]))[0, 1]) > 0.5
    # without a shared part the tasks are unrelated
    apart = make_gradnorm_regression(4000, num_features=20, num_outputs=8, shared_std=0.0, seed=0)
    assert abs(float(torch.corrcoef(torch.stack([apart.Y[:, 0].flatten(), apart.Y[:, 1].flatten()]))[0, 1])) < 0.1


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: make_uncertainty_regression(0), r"n_samples must be an integer in \[1, inf\], got 0"),
        (lambda: make_uncertainty_regression(10, noise_std=()), r"noise_std must list one noise level per task"),
        (lambda: make_uncertainty_regression(10, noise_std=(1.0, -1.0)), r"noise_std\[i\] must be in \[0.0, inf\], got -1.0"),
        (lambda: make_uncertainty_regression(10, slopes=(1.0,)), r"slopes and intercepts must have one entry per task \(2\), got 1 and 2"),
        (lambda: make_gradnorm_regression(10, scales=()), r"scales must list one scale per task"),
        (lambda: make_gradnorm_regression(10, scales=(1.0, 0.0)), r"scales\[i\] must be in \(0.0, inf\], got 0.0"),
        (lambda: make_gradnorm_regression(10, num_outputs=0), r"num_outputs must be an integer in \[1, inf\], got 0"),
        (lambda: make_gradnorm_regression(10, task_std=-1), r"task_std must be in \[0.0, inf\], got -1"),
    ],
)
def test_multitask_generators_reject_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ------------------------------------------------------------------ Zipf catalogue
def test_zipf_catalogue_shapes_popularity_and_determinism():
    from losscookbook.data import make_zipf_catalogue

    data = make_zipf_catalogue(50, 300, interactions_per_user=30, dim=4, exponent=1.1, seed=3)
    assert data.users.shape == data.items.shape == (1500,)
    assert data.user_vectors.shape == (50, 4) and data.item_vectors.shape == (300, 4)
    assert torch.equal(torch.bincount(data.users), torch.full((50,), 30))
    ranks = torch.arange(1, 301, dtype=torch.float64)
    zipf = ranks.pow(-1.1) / ranks.pow(-1.1).sum()
    torch.testing.assert_close(data.popularity.double(), zipf, rtol=1e-6, atol=0)
    torch.testing.assert_close(data.conditional_logits, data.user_vectors @ data.item_vectors.T + zipf.log().float())
    again = make_zipf_catalogue(50, 300, interactions_per_user=30, dim=4, exponent=1.1, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(data, again))
    other = make_zipf_catalogue(50, 300, interactions_per_user=30, dim=4, exponent=1.1, seed=4)
    assert not torch.equal(data.items, other.items)


def test_zipf_catalogue_interactions_follow_popularity_times_preference():
    from losscookbook.data import make_zipf_catalogue

    data = make_zipf_catalogue(20, 30, interactions_per_user=4000, dim=3, seed=0)
    # per user, the empirical item distribution matches softmax(preference + log popularity)
    counts = torch.zeros(20, 30).index_put_((data.users, data.items), torch.ones(data.users.numel()), accumulate=True)
    empirical = counts / 4000
    truth = torch.softmax(data.conditional_logits.double(), 1).float()
    assert (empirical - truth).abs().max() < 0.03
    torch.testing.assert_close(empirical.mean(0), data.item_frequency, atol=0.01, rtol=0)
    # preference alone does not explain the data: popularity is a separate factor
    assert (empirical - torch.softmax(data.preference, 1)).abs().max() > 0.1


def test_zipf_catalogue_bad_arguments():
    from losscookbook.data import make_zipf_catalogue

    with pytest.raises(ValueError, match=r"num_items must be an integer in \[2, inf\], got 1"):
        make_zipf_catalogue(5, 1)
    with pytest.raises(ValueError, match=r"exponent must be in \[0.0, inf\], got -1.0"):
        make_zipf_catalogue(5, 10, exponent=-1.0)
    with pytest.raises(TypeError, match=r"interactions_per_user must be an int, got float"):
        make_zipf_catalogue(5, 10, interactions_per_user=2.5)


# --------------------------------------------------------------------------- identities for metric learning
from losscookbook.data import IdentityData, make_identities  # noqa: E402
from losscookbook.metrics import recall_at_k  # noqa: E402


def test_make_identities_shapes_order_and_determinism():
    data = make_identities(12, 5, latent_dim=3, nuisance_dim=2, input_dim=7, seed=4)
    assert isinstance(data, IdentityData)
    assert data.X.shape == (60, 7) and data.X.dtype == torch.float32
    assert data.labels.dtype == torch.int64 and data.labels.tolist() == [k for k in range(12) for _ in range(5)]
    assert data.latent.shape == (60, 3) and data.nuisance.shape == (60, 2)
    assert not data.is_test.any()
    again = make_identities(12, 5, latent_dim=3, nuisance_dim=2, input_dim=7, seed=4)
    for a, b in zip(data, again):
        assert torch.equal(a, b)
    other = make_identities(12, 5, latent_dim=3, nuisance_dim=2, input_dim=7, seed=5)
    assert not torch.equal(data.latent, other.latent)


def test_make_identities_samples_scatter_around_their_centre():
    data = make_identities(50, 40, identity_std=0.05, nuisance_std=2.0, seed=0)
    latent = data.latent.view(50, 40, -1)
    within = (latent - latent.mean(1, keepdim=True)).std()
    assert abs(within.item() - 0.05) < 0.005
    assert abs(data.nuisance.std().item() - 2.0) < 0.05
    # nuisance is independent of the identity: per-identity means are near 0
    assert data.nuisance.view(50, 40, -1).mean(1).abs().max() < 2.0 * 4 / 40**0.5


def test_make_identities_held_out_identities_are_disjoint():
    data = make_identities(10, 3, num_test_identities=4)
    assert data.is_test.tolist() == [False] * 18 + [True] * 12
    train, test = data.split()
    assert set(train.labels.tolist()) == set(range(6)) and set(test.labels.tolist()) == set(range(6, 10))
    assert torch.equal(torch.cat([train.X, test.X]), data.X)
    assert not train.is_test.any() and test.is_test.all()


def test_make_identities_map_seed_gives_a_second_view_of_the_same_samples():
    a = make_identities(8, 4, seed=1, map_seed=0)
    b = make_identities(8, 4, seed=1, map_seed=1)
    assert torch.equal(a.latent, b.latent) and torch.equal(a.nuisance, b.nuisance)
    assert not torch.allclose(a.X, b.X, atol=1e-2)
    # the sensor does not depend on seed: identical factors give identical inputs
    c = make_identities(8, 4, identity_std=0.0, nuisance_std=0.0, seed=2)
    d = make_identities(8, 4, identity_std=0.0, nuisance_std=0.0, seed=2, map_seed=0)
    assert torch.equal(c.X, d.X)
    assert torch.equal(c.X.view(8, 4, -1)[:, 0], c.X.view(8, 4, -1)[:, 3])


def test_make_identities_raw_inputs_do_not_cluster_but_the_identity_factors_do():
    _, test = make_identities(200, 8, num_test_identities=100, seed=0).split()
    assert recall_at_k(test.X, test.labels) < 0.3
    assert recall_at_k(test.latent, test.labels) > 0.95
    # without nuisance the raw inputs do cluster: the nuisance is what hides the identity
    _, clean = make_identities(200, 8, num_test_identities=100, nuisance_std=0.0, seed=0).split()
    assert recall_at_k(clean.X, clean.labels) > 0.95


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_identities=0, samples_per_identity=2), r"num_identities must be an integer in \[1, inf\], got 0"),
        (dict(num_identities=3, samples_per_identity=0), r"samples_per_identity must be an integer in \[1, inf\], got 0"),
        (dict(num_identities=3, samples_per_identity=2, num_test_identities=4), r"num_test_identities must be an integer in \[0, 3\], got 4"),
        (dict(num_identities=3, samples_per_identity=2, identity_std=-1.0), r"identity_std must be in \[0.0, inf\], got -1.0"),
        (dict(num_identities=3, samples_per_identity=2, nonlinearity=0.0), r"nonlinearity must be in \(0.0, inf\], got 0.0"),
        (dict(num_identities=3, samples_per_identity=2, latent_dim=0), r"latent_dim must be an integer in \[1, inf\], got 0"),
    ],
)
def test_make_identities_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_identities(**kwargs)
