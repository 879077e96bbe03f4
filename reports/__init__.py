"""Files in and out: plan splits, returns, summary sheets. Plain data in, files out, and back."""
