"""`python -m stacks models lock`: the model facts the plan sizes endpoints by, read from Hugging Face or S3 (docs/models.md)."""
