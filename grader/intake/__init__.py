"""Intake: from what an instructor downloads (files, folders, zips, LMS layouts) to one
`Submission` per student, with every other input listed as skipped, and why.

Intake owns identity: who a file belongs to, and the output folder that follows from it.
"""

# Between an archive and its member in what the user is shown: `class.zip!hw.ipynb`.
SEPARATOR = "!"
