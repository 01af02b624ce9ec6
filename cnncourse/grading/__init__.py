"""The grader's machinery: `cnncourse grade` and everything it runs. Students never import it.

A submission's way through it (`cnncourse grade` in `cnncourse.cli`):

- `intake`: find each student's notebook, read and repair it, or say why it cannot be graded;
- `run`: the class run (parent side): start workers, hand out jobs, collect a row per student;
  `cluster`: the same on a Dask cluster (each Dask worker hosts a `run` with one worker);
- `worker`: one grading worker process: nbgrader's autograde in a scratch course, then
  verification, strays killed, outputs capped, the feedback page;
- `warmkernel`, `jail`, `sandbox`, `verify`: the kernels the notebooks run in, the jail around
  student code, and the rerun of the student's program outside the kernel that judges it;
- `scoring`: how a test cell is scored (one rule for check, Validate and grade);
- `gradebook`, `results`, `feedback`, `report`: what a run writes: the gradebook, grades.csv,
  the feedback pages and the instructor's report;
- `protocol`: the messages between the run and its workers, the statuses, the limits;
- `procs`: processes: the subreaper, descendants, quiet kills; `env`: the environment
  variables the grader's processes pass on.
"""
