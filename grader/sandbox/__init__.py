"""Running student code: a warm worker process and a confined child per submission."""
