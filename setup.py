"""acai_tf: the ACAI paper's autoencoders (ICLR 2019) in TensorFlow 2 / Keras 3."""

from setuptools import find_packages, setup

setup(
    name='acai_tf',
    version='0.1.0',
    description='Adversarially Constrained Autoencoder Interpolation (ACAI) and the '
                'autoencoders it was compared with, in TensorFlow 2 / Keras 3.',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['acai_tf', 'acai_tf.*', 'data_prep', 'data_prep.*']),
    # The trained models that ship: SavedModel folders and their manifest.
    package_data={'acai_tf.pretrained': ['manifest.json', '*/*', '*/*/*']},
    python_requires='>=3.10',
    install_requires=[
        'tensorflow>=2.16,<3',
        'keras>=3.3,<4',
        # Not pulled in by tensorflow >= 2.21, yet tf.summary needs it.
        'tensorboard>=2.16,<3',
        'tensorflow-datasets>=4.9,<5',
        # tensorflow-datasets imports it but declares it for Python < 3.9 only.
        'importlib_resources>=5',
        'numpy>=1.26',
        'scipy>=1.11',
        'scikit-learn>=1.3',
        'absl-py>=1.4',
        'pillow>=10',  # data_prep: folders of images
    ],
    extras_require={
        'notebooks': ['matplotlib>=3.8,<4', 'ipykernel>=6.29,<8'],
        # python -m acai_tf.explore: the interpolation page in a browser.
        'demo': ['gradio>=6,<7'],
        # --log_to=mlflow / --log_to=wandb: the experiment trackers.
        'mlflow': ['mlflow-skinny>=3.17,<4'],
        'wandb': ['wandb>=0.31,<1'],
        # Everything the tests exercise, the optional extras included. nbclient/nbformat
        # pinned: CI executes the notebooks with them; playwright drives Debian's chromium.
        # pytest-xdist runs the suite on every core (pytest.ini; -n 0 for one process); filelock
        # lets its workers share one tiny trained run (tests/conftest.py).
        'test': ['pytest>=8', 'pytest-xdist>=3.8,<4', 'filelock>=3.12,<5', 'ruff==0.17.6',
                 'matplotlib>=3.8,<4', 'ipykernel>=6.29,<8', 'nbclient==0.11.0', 'nbformat==5.11.1',
                 'gradio>=6,<7', 'playwright>=1.65,<2', 'mlflow-skinny>=3.17,<4', 'wandb>=0.31,<1'],
    },
)
