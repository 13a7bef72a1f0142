"""What the stored nights and drinks say: the insights analysis, its statistics and the doctor's report."""
