#!/usr/bin/env python3
"""Discriminative classifiers on the bayes plugin's own features, by cross-validation.

The question it answers: would a linear model trained on the same tokens (logistic
regression, a linear SVM, or logistic regression on naive-Bayes-weighted features, the
"NBSVM" of Wang and Manning 2012) catch more spam than chi-square combining at the very
low false-positive rates a gateway needs?

    cargo run --release -p moat-plugin-bayes --example corpus -- \
        --cv TRAIN_DIR --dump tokens.txt
    cargo run --release -p moat-plugin-bayes --example corpus -- \
        --cv TRAIN_DIR --folds 5 --scores chi.tsv        # optional: the plugin's own row
    python3 plugins/bayes/examples/discriminative.py tokens.txt [chi.tsv]

Needs numpy, scipy and scikit-learn. The folds are those of the harness (message i of the
name-sorted list is in fold i mod 5). For each model it prints the share of spam caught
with the threshold set just above the k-th highest-scoring ham, for k = 0 ... 6.
"""

import sys

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC

FOLDS = 5


def load(path):
    rows = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            label, name, *tokens = line.rstrip("\n").split("\x1f")
            rows.append((label == "spam", name, tokens))
    rows.sort(key=lambda r: r[1])
    return rows


def matrix(rows, vocab, grow):
    indices, indptr = [], [0]
    for _, _, tokens in rows:
        ids = set()
        for token in tokens:
            i = vocab.get(token)
            if i is None and grow:
                i = vocab[token] = len(vocab)
            if i is not None:
                ids.add(i)
        indices.extend(sorted(ids))
        indptr.append(len(indices))
    return indices, indptr


def nb_weights(x, y, alpha=1.0):
    spam = np.asarray(x[y].sum(0)).ravel()
    ham = np.asarray(x[~y].sum(0)).ravel()
    return np.log((spam + alpha) / (y.sum() + 2 * alpha)) - np.log(
        (ham + alpha) / ((~y).sum() + 2 * alpha)
    )


def model(kind, c, nb, norm):
    def fit_score(x_train, y_train, x_test):
        if nb:
            weights = sp.diags(nb_weights(x_train, y_train))
            x_train, x_test = x_train @ weights, x_test @ weights
        if norm:
            x_train, x_test = normalize(x_train), normalize(x_test)
        if kind == "lr":
            m = LogisticRegression(C=c, max_iter=3000)
        else:
            m = LinearSVC(C=c, max_iter=5000)
        m.fit(x_train, y_train)
        return m.decision_function(x_test)

    return fit_score


def cross_validate(rows, y, fit_score):
    scores = np.zeros(len(rows))
    fold_of = np.arange(len(rows)) % FOLDS
    for fold in range(FOLDS):
        train = [r for r, f in zip(rows, fold_of) if f != fold]
        test = [r for r, f in zip(rows, fold_of) if f == fold]
        vocab = {}
        ind, ptr = matrix(train, vocab, True)
        x_train = sp.csr_matrix((np.ones(len(ind)), ind, ptr), shape=(len(train), len(vocab)))
        ind, ptr = matrix(test, vocab, False)
        x_test = sp.csr_matrix((np.ones(len(ind)), ind, ptr), shape=(len(test), len(vocab)))
        scores[fold_of == fold] = fit_score(x_train, y[fold_of != fold], x_test)
    return scores


def report(name, y, scores):
    ham = np.sort(scores[~y])[::-1]
    cells = []
    for k in range(7):
        threshold = ham[k] if k < len(ham) else -np.inf
        cells.append(f"{k}: {100 * np.mean(scores[y] > threshold):5.1f}%")
    print(f"{name:<28} " + "  ".join(cells))


def main():
    rows = load(sys.argv[1])
    y = np.array([r[0] for r in rows])
    print(f"{y.sum()} spam, {(~y).sum()} ham; spam caught with k ham above the threshold")
    if len(sys.argv) > 2:
        chi = {}
        with open(sys.argv[2]) as f:
            for line in f:
                name, _, probability = line.rstrip("\n").split("\t")
                chi[name] = float(probability)
        report("chi-square (the plugin)", y, np.array([chi[r[1]] for r in rows]))
    for name, kind, c, nb, norm in [
        ("logistic regression", "lr", 1.0, False, False),
        ("linear SVM, l2 rows", "svm", 1.0, False, True),
        ("NB-weighted LR", "lr", 10.0, True, False),
        ("NB-weighted LR, l2 rows", "lr", 100.0, True, True),
    ]:
        report(name, y, cross_validate(rows, y, model(kind, c, nb, norm)))


if __name__ == "__main__":
    main()
