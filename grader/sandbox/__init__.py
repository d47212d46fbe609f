"""Running student code: a warm worker process forks a confined child per graded function."""
