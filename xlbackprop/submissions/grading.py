"""Grading a kept submission: the validator on its stored file, the result saved in the store."""

from xlbackprop.submissions.saved_results import result_json
from xlbackprop.validate import batch


def grade_file(path, file_name, assignment=None):
    """The validator's result for the workbook at `path` as a JSON-ready dict, naming the file as the student
    did (the stored name is a hash). `assignment`: the Spec the teacher assigned."""
    return saved_result(batch.run([path], assignment=assignment).results[0], path, file_name)


def saved_result(result, path, file_name):
    """The result of validating the stored file at `path` as the store keeps it: a JSON-ready dict in which
    the file is named as the student named it."""
    doc = result_json(result)
    doc["file"] = file_name
    if doc.get("error"):
        doc["error"] = doc["error"].replace(str(path), file_name)
    return doc


def grade(store, submission, assignment=None):
    """Grade one submission and save its result; False when it was deleted or re-queued meanwhile."""
    doc = grade_file(store.path(submission), submission.file_name, assignment)
    return store.save_result(submission, doc)


def grade_queued(store, assignment=None):
    """Grade every queued submission, oldest first (what a restart leaves to do). Returns how many were saved."""
    return sum(grade(store, s, assignment) for s in store.queued())
