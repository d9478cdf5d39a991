"""Local-first SageMaker emulator and container contract test harness."""

__version__ = "0.1.0"
