"""Match stage: candidate pairs (LSH, pHash), the pixel check, tiers and groups, calibration and
similar-photo search."""
