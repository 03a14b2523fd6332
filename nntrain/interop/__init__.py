"""Moving models to and from Keras 3: the `.weights.h5` layout (`keras_weights`, driven by the
one table in `keras_layout`), the architecture as a Keras JSON config (`keras_config`), and the
run-level commands built on them (`exchange`: export a run, import weights into a new run).

h5py is an optional extra (``pip install "nntrain[keras]"``); nothing here imports Keras.
"""
