"""`grader serve`: the grading service an LMS calls on each upload.

HTTP handlers validate and enqueue (app.py, upload.py); submissions wait in SQLite (store.py)
until a grading thread runs them through the batch's own code (grading.py); callbacks have
their own durable table and dispatcher (callbacks.py). service.py composes them.
"""
