"""Representation metrics: linear probe and K-means clustering accuracy (numpy, scikit-learn).

The clustering protocol is the original cluster.py's: whiten the latents with
the training set's mean and thin SVD (full rank kept), fit K-means with random
initialisation on the training latents, and score the *test* set under the
best one-to-one cluster -> class map (Hungarian matching, scipy's
linear_sum_assignment on the confusion matrix).
"""

import numpy as np
from scipy.optimize import linear_sum_assignment


def whiten(train, *others, eps=1e-5):
  """Centres on the train mean and projects onto its SVD axes scaled by 1 / singular value.

  Args:
    train: [N, D] training features (defines the transform).
    *others: more [M, D] arrays transformed the same way.
    eps: added to the singular values.

  Returns:
    The whitened train array followed by the whitened others.
  """
  train = np.asarray(train, np.float64)
  mean = train.mean(axis=0)
  _, s, vt = np.linalg.svd(train - mean, full_matrices=False)
  project = lambda x: (np.asarray(x, np.float64) - mean) @ vt.T / (s + eps)  # noqa: E731
  return (project(train),) + tuple(project(x) for x in others)


def matched_accuracy(labels, clusters, n_classes=None):
  """Accuracy under the best one-to-one map of cluster ids to labels.

  Args:
    labels: int [N] true classes.
    clusters: int [N] cluster ids.
    n_classes: size of the confusion matrix (default: enough for both).

  Returns:
    float in [0, 1].
  """
  labels, clusters = np.asarray(labels), np.asarray(clusters)
  n = n_classes or int(max(labels.max(), clusters.max()) + 1)
  confusion = np.zeros((n, n), np.int64)
  np.add.at(confusion, (clusters, labels), 1)
  rows, cols = linear_sum_assignment(-confusion)
  return confusion[rows, cols].sum() / len(labels)


def cluster_accuracy(train, test, test_labels, n_classes, n_init=1000, max_iter=1000, seed=0):
  """K-means on whitened train features; matched accuracy of the test assignment."""
  from sklearn.cluster import KMeans
  train_w, test_w = whiten(train.reshape(len(train), -1), test.reshape(len(test), -1))
  kmeans = KMeans(n_clusters=n_classes, init='random', n_init=n_init, max_iter=max_iter,
                  random_state=seed).fit(train_w)
  return matched_accuracy(test_labels, kmeans.predict(test_w), n_classes)


def probe_accuracy(train, train_labels, test, test_labels, max_iter=1000, seed=0):
  """A single-layer (multinomial logistic regression) classifier on frozen features.

  Features are standardised with the training statistics first.

  Returns:
    Test accuracy in [0, 1].
  """
  from sklearn.linear_model import LogisticRegression
  from sklearn.pipeline import make_pipeline
  from sklearn.preprocessing import StandardScaler
  model = make_pipeline(StandardScaler(),
                        LogisticRegression(max_iter=max_iter, random_state=seed))
  model.fit(train.reshape(len(train), -1), train_labels)
  return float(model.score(test.reshape(len(test), -1), test_labels))
