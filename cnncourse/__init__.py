"""cnncourse: helpers for a Jupyter course on convolutional neural networks.

Students can read every line of this package: it holds data loading, plotting, timing tables,
the student-side checker and the grading tools, never the answer to a graded exercise.
"""

__version__ = "0.1.0"
