"""Board router: sends Submitted and Delete Submitted records to their boards and appends the verdicts."""
