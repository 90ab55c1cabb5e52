"""Use cases named by business verbs; they take their stores as arguments and raise domain errors."""
