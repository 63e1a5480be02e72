# nbgrader configuration of the nnlib course, copied by `make nbgrader` into the course folder (build/nbgrader/).
# Run every nbgrader command from that folder (or pass --CourseDirectory.root). Options:
# https://nbgrader.readthedocs.io/en/stable/configuration/config_options.html
import os
import sys

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)
here = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.root = here
c.CourseDirectory.course_id = "nnlib-course"
# One assignment per lesson, named like the lesson: source/03_backpropagation_by_hand/03_backpropagation_by_hand.ipynb

# Autograding runs the whole lesson (it trains small models): a generous per-cell limit, and one BLAS thread per
# kernel (small matrices gain nothing from more threads, and a busy grading machine loses much).
c.Execute.timeout = 300
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# The autograder waits for each cell's reply with the kernel client of sliced_poll.py (beside this file): with some
# pyzmq / jupyter_client versions the plain client can miss a reply until the cell's timeout, which would score a
# correct answer as an error.
sys.path.insert(0, here)
c.AsyncKernelManager.client_class = "sliced_poll.SlicedPollClient"

# A student who deletes an autograded test cell gets it back at autograding (and loses its points if it fails).
c.OverwriteCells.add_missing_cells = True

# Multi-user hubs (The Littlest JupyterHub, Zero to JupyterHub): students fetch and submit through an exchange
# folder that every user can reach, e.g.
# c.Exchange.root = "/srv/nbgrader/exchange"
