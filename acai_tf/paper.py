"""The paper's figures and protocol, as numbers (TensorFlow-free, like every settings module).

Berthelot et al., ICLR 2019: every run trains 16384 kimg (2^24 images) and reports 256 times
(every 64 kimg); a table cell is the median of a run's last 20 reports. Tables 2 and 3 list
six models in the order of `TABLE_MODELS`.
"""

BUDGET_KIMG = 16384
REPORTS = 256
LAST = 20
WINDOW = (BUDGET_KIMG - (LAST - 1) * BUDGET_KIMG // REPORTS, BUDGET_KIMG)  # kimg 15168-16384

# Table 1, lines32: (Mean Distance x 1e-3, its std, Smoothness, its std).
LINES = {'baseline': (6.88, 0.21, 0.44, 0.04), 'dropout': (2.85, 0.54, 0.74, 0.02),
         'denoising': (4.21, 0.32, 0.66, 0.02), 'vae': (1.21, 0.17, 0.49, 0.13),
         'aae': (3.26, 0.19, 0.14, 0.02), 'vqvae': (5.41, 0.49, 0.77, 0.02),
         'acai': (0.24, 0.01, 0.10, 0.01)}
TABLE_MODELS = ('baseline', 'denoising', 'vae', 'aae', 'vqvae', 'acai')
# Table 2, the tandem probe's test accuracy %, by (dataset, d_z).
PROBE = {
    ('mnist32', 32): (94.90, 96.00, 96.56, 70.74, 97.50, 98.25),
    ('mnist32', 256): (93.94, 98.51, 98.74, 90.03, 97.25, 99.00),
    ('svhn32', 32): (26.21, 25.15, 29.58, 23.43, 24.53, 34.47),
    ('svhn32', 256): (22.74, 77.89, 66.30, 22.81, 44.94, 85.14),
    ('cifar10', 256): (47.92, 53.78, 47.49, 40.65, 42.80, 52.77),
    ('cifar10', 1024): (51.62, 60.65, 51.39, 42.86, 16.22, 63.99)}
PIXELS = {'mnist32': 92.31, 'svhn32': 23.48, 'cifar10': 39.70}  # Table 2's raw-pixel probe
# Table 3, K-means test accuracy %, by (dataset, d_z).
CLUSTER = {
    ('mnist32', 32): (77.56, 82.59, 75.74, 79.19, 82.39, 94.38),
    ('mnist32', 256): (53.70, 70.89, 83.44, 81.00, 96.80, 96.17),
    ('svhn32', 32): (19.38, 17.91, 16.83, 17.35, 15.19, 20.86),
    ('svhn32', 256): (15.62, 31.49, 11.36, 13.59, 18.84, 24.98)}


def table_value(table, key, model):
  """The paper's figure of `model` in Table 2 or 3 (`table`) at (dataset, d_z), or None."""
  row = table.get(key)
  return row[TABLE_MODELS.index(model)] if row and model in TABLE_MODELS else None
