"""nbgrader configuration of the cnncourse course (read by nbgrader and by `cnncourse`)."""

c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "cnncourse"
# Instructors edit only solutions/; students get notebooks/, generated from it.
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"

# Per CELL, in seconds. The slowest graded cell (training LeNet) needs well under this.
c.Execute.timeout = 120

# A student who deletes a graded cell gets it back, so it is graded instead of
# waiting for a manual grade forever.
c.OverwriteCells.add_missing_cells = True

# Only a raised error fails a test cell: nbgrader alone also gives 0 to a test cell that wrote to
# stderr (a warning, a progress bar). One rule for Validate, autograde and `cnncourse check`.
from cnncourse.grading.scoring import only_errors_fail  # noqa: E402

only_errors_fail()
