"""Review jobs, each run for one district (the partition): approve or discard a held plan,
restore the roster to an earlier run, decide a possible-duplicate alert."""
